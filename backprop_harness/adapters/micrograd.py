"""``--impl micrograd``: Karpathy's micrograd from PyPI (0.1.0), unchanged.

Its ``Value`` has ``+ - * / **`` (float exponents), ``neg`` and ``relu``; the
harness discovers that and builds graphs from those operations only. It has
no network API of the posts' shape, so the other systems are not provided.
"""
import micrograd.engine as __wraps__  # the report names this file
from micrograd.engine import Value

__all__ = ["Value", "__wraps__"]
