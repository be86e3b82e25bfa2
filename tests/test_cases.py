"""Cases are read-only, so what is computed from one can be kept with it (``per_case``)."""
from __future__ import annotations

import numpy as np
import pytest

from oracles.cases import GraphCase, ManualCase, MLPCase, Node, SoftmaxCase, per_case
from oracles.rounding import magnitude

CASES = [
    GraphCase([0.5, -1.5], (Node("mul", 0, 1), Node("tanh", 2))),
    ManualCase([0.3, -0.7], [0.2, 0.9], [0.1, -0.4, 0.5, 0.3, -0.2, 0.8, 0.6, -0.1]),
    MLPCase(np.ones((2, 3)), np.zeros((2, 1)), (np.ones((3, 4)), np.ones((4, 1))), (np.zeros(4), np.zeros(1))),
    SoftmaxCase(np.ones((2, 3)), np.eye(2), np.ones((3, 4)), np.zeros(4), np.ones((4, 2)), np.zeros(2)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: type(c).__name__)
def test_a_case_and_its_arrays_cannot_be_changed(case):
    arrays = [v for v in vars(case).values() if isinstance(v, np.ndarray)]
    arrays += [a for v in vars(case).values() if isinstance(v, tuple) for a in v if isinstance(a, np.ndarray)]
    assert arrays
    for a in arrays:
        with pytest.raises(ValueError, match="read-only"):
            a[...] = 0.0
    for p in case.params().values():
        if isinstance(p, np.ndarray) and p.ndim:
            with pytest.raises(ValueError, match="read-only"):
                p[...] = 0.0


def test_the_arrays_a_case_is_made_from_are_copied_not_frozen():
    W = np.ones((3, 4))
    MLPCase(np.ones((2, 3)), np.zeros((2, 4)), (W,))
    W[0, 0] = 2.0                                   # the caller's array stays writable


def test_per_case_keeps_the_last_cases_by_identity():
    calls = []
    f = per_case(lambda case: calls.append(case) or len(calls), size=2)
    a, b, c = (GraphCase([float(i)]) for i in range(3))
    assert (f(a), f(a), f(b), f(a)) == (1, 1, 2, 1)
    assert f(GraphCase([0.0])) == 3                  # equal to a, but another case: computed again
    f(c)                                             # keeps two: a is gone
    assert f(a) == 5 and len(calls) == 5


def test_magnitudes_are_read_only_and_a_callers_dict_is_its_own():
    case = CASES[2]
    _, mags = magnitude(case)
    with pytest.raises(ValueError, match="read-only"):
        mags["W1"][0, 0] = 0.0
    mags["W1"] = None
    assert magnitude(case)[1]["W1"] is not None
