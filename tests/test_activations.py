"""The activations shared by the vectorized systems: values, dtypes and derivatives."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from reference import activations


def test_sigmoid_of_small_integers_and_of_large_negative_inputs():
    for dtype in (np.int8, np.int16, np.int64, bool):              # np.exp of int8 is float16: 3 digits
        out = activations.sigmoid(np.array([0, 1], dtype=dtype))
        assert out.dtype == np.float64
        assert out.tolist() == [0.5, 1.0 / (1.0 + math.exp(-1.0))]  # every digit
    assert activations.sigmoid(np.float32(2)).dtype == np.float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")                             # e^1000 overflows: silenced, not warned
        assert activations.sigmoid(np.array([-1000.0]))[0] == 0.0


def test_sigmoid_prime_of_the_pre_activation():
    z = np.array([0.0, 2.0, -3.0])
    s = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(activations.sigmoid_prime(z), s * (1.0 - s), rtol=1e-15)
    assert activations.sigmoid_prime(0.0) == 0.25


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_and_identity_derivatives_keep_shape_and_dtype(dtype):
    a = np.array([[-1.0, 0.0], [2.0, 0.5]], dtype=dtype)
    relu_prime = activations.activation("relu")[1](a)
    identity_prime = activations.activation("identity")[1](a)
    assert relu_prime.dtype == dtype and identity_prime.dtype == dtype
    np.testing.assert_array_equal(relu_prime, [[0.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(identity_prime, np.ones((2, 2)))
