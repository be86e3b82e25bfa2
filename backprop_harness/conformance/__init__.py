"""The conformance checks shipped with the harness: the checks themselves
(``test_conformance.py``), the pytest plug-in that runs them and records the run
(``plugin.py``), and what a failure becomes (``explain.py``)."""
