"""Hypothesis strategies for the systems' inputs (the one module for them).

Every strategy draws float64 values in a well-conditioned range and shrinks
towards the smallest network and towards 0.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["arrays", "networks", "one_hot"]


def arrays(shape, lo=-2.0, hi=2.0):
    """float64 arrays of ``shape`` with entries in [lo, hi]; shrinks towards zeros."""
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_subnormal=False))


@st.composite
def networks(draw, max_depth=3, max_width=5, max_batch=4, layout="row", biases=None):
    """(X, T, Ws, bs) of a random MLP: depth 1..max_depth, widths 1..max_width, batch 1..max_batch.

    Row layout: X (n, d0), W_l (d_{l-1}, d_l); column layout: the transposes.
    T is in [0, 1]. bs is None when ``biases`` is False, drawn either way when None.
    Shrinks towards one layer of width 1, batch 1, all-zero weights.
    """
    depth = draw(st.integers(1, max_depth))
    dims = draw(st.lists(st.integers(1, max_width), min_size=depth + 1, max_size=depth + 1))
    n = draw(st.integers(1, max_batch))
    with_bias = draw(st.booleans()) if biases is None else biases
    Ws = [draw(arrays((dims[i], dims[i + 1]))) for i in range(depth)]
    bs = [draw(arrays((dims[i + 1],))) for i in range(depth)] if with_bias else None
    X = draw(arrays((n, dims[0]), -3.0, 3.0))
    T = draw(arrays((n, dims[-1]), 0.0, 1.0))
    if layout == "column":
        return X.T, T.T, [W.T for W in Ws], bs
    return X, T, Ws, bs


@st.composite
def one_hot(draw, n, k):
    """An (n, k) one-hot matrix; shrinks towards every row choosing class 0."""
    labels = draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))
    return np.eye(k)[labels]
