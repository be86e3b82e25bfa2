"""Independent oracles that the reference (and later any plugged-in implementation) is checked against.

* ``oracles.finite_differences``  numerical derivatives of any f: R^n -> R
* ``oracles.tolerance``           the one tolerance policy, every figure with its reason
"""
