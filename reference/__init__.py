"""Reference implementations of the four systems taught by the posts (docs/posts.md).

* ``reference.engine``   scalar computational graph (``Value``), reverse and forward mode (002, 003, 000)
* ``reference.manual``   003's 2-2-2 sigmoid network, scalar by scalar
* ``reference.mlp``      vectorized MLP of any depth, row (003, 000) and column (001) layouts
* ``reference.softmax``  000's sigmoid + softmax + cross-entropy network
* ``reference.replays``  the posts' worked examples, replayed (what ``fixtures/`` recomputes)
* ``reference.errata``   the posts' wrong formulas, read literally
* ``reference.protocol`` the reference in the plug-in protocol (what ``pytest`` checks without ``--impl``)
"""
