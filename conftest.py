"""The harness's own test suite runs through the same pytest plug-in as ``backprop-harness
test`` (``backprop_harness/conformance/plugin.py``: the implementation under test, the
Hypothesis profiles, the run's record and reports). Without ``--impl`` the conformance
checks run on the built-in reference, beside the suite's own tests."""

pytest_plugins = ["backprop_harness.conformance.plugin"]
