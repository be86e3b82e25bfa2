"""Adapters: existing libraries, unchanged, exposed in the plug-in protocol (``--impl NAME``)."""
