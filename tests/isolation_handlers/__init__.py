"""Handlers that tests/test_isolation.py runs in worker processes; no plug-in code."""
