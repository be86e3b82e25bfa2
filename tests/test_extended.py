"""The extended-precision truth (``oracles.extended``) is itself right: closed forms,
mpmath at 40 digits on every system and every operation, two steps that agree to long
double rounding, agreement with the autodiff oracles to float64 rounding, and a clear
refusal where long double is only float64."""
from __future__ import annotations

import mpmath
import numpy as np
import pytest

import oracles
from backprop_harness.strategies import RELU_MARGIN, clear_of_zero
from oracles import extended, numeric
from oracles.cases import GraphCase, ManualCase, MLPCase, Node, SoftmaxCase, evaluate
from oracles.rounding import magnitude
from oracles.tolerance import tolerance

EPS_LD = float(np.finfo(np.longdouble).eps)
EPS64 = float(np.finfo(np.float64).eps)
DIGITS = 40          # mpmath's working precision: far beyond long double's ~19 digits

pytestmark = pytest.mark.skipif(not EPS_LD < EPS64, reason="long double is float64 on this platform")


# --- the cases: every operation, both sigmoid branches, both layouts and losses -------

def _every_op_graph():
    """x0 = 1.3, x1 = -0.7, x2 = 2.1, every operation of ``oracles.cases.OPS`` (each
    power of the strategies; constants on both sides; sigmoid of either sign), then all
    values summed, so the output depends on each."""
    nodes = [Node("mul", 0, 1), Node("exp", 3), Node("log", 2), Node("tanh", 1), Node("sigmoid", 0),
             Node("sigmoid", 1), Node("relu", 2), Node("neg", 0), Node("div", 4, 5), Node("sub", 2.5, 6),
             Node("div", 7, 3.0), Node("add", 0.5, 8)]
    nodes += [Node("pow", i, c) for i, c in ((2, 1.5), (1, 3.0), (0, -1.0), (2, 0.5), (1, -2.0), (0, 2.0))]
    total = 3
    for i in range(4, 3 + len(nodes)):
        nodes.append(Node("add", total, i))
        total = 3 + len(nodes) - 1
    return GraphCase(np.array([1.3, -0.7, 2.1]), tuple(nodes))


def _cases():
    """One case per system, each from its own seed, chosen (among the first 300) for a
    rounding magnitude within ~10 of the gradient's largest entry: there k eps_ld of the
    magnitude is below eps64 / 2 of the gradient, so a float64 error cannot pass for long
    double (``_resolves_float64`` checks it). Inputs and weights in [-1, 1] (the strategies'
    [-3, 3] and [-2, 2] saturate units, where the magnitude is far above the gradient)."""
    def rng(seed):
        return np.random.default_rng(seed)
    r = rng(175)
    manual = ManualCase(r.uniform(-1, 1, 2), r.uniform(0, 1, 2), r.uniform(-1.5, 1.5, 8))
    r = rng(40)
    dims, n = (2, 3, 3, 2, 2), 3
    X = r.uniform(-1, 1, (n, dims[0]))
    Ws = [r.uniform(-1, 1, (dims[l], dims[l + 1])) for l in range(len(dims) - 1)]
    bs = [r.uniform(-1, 1, d) for d in dims[1:]]
    bs[1] = clear_of_zero(np.tanh(X @ Ws[0] + bs[0]) @ Ws[1], bs[1], RELU_MARGIN)     # the relu layer
    T = r.uniform(0, 1, (n, dims[-1]))
    mlp = MLPCase(X.T, T.T, [W.T for W in Ws], bs, ("tanh", "relu", "identity", "sigmoid"), "half_mean", "column")
    r = rng(53)
    mlp_row = MLPCase(r.uniform(-1, 1, (3, 2)), r.uniform(0, 1, (3, 1)), [r.uniform(-2, 2, (2, 1))], None,
                      "sigmoid", "sse", "row")
    r = rng(268)
    softmax = SoftmaxCase(r.uniform(-1, 1, (3, 2)), np.eye(3)[[0, 2, 1]], r.uniform(-1, 1, (2, 3)),
                          r.uniform(-1, 1, 3), r.uniform(-1, 1, (3, 3)), r.uniform(-1, 1, 3), "mean")
    return {"scalar_graph": _every_op_graph(), "manual_222": manual, "mlp": mlp, "mlp_row": mlp_row,
            "softmax": softmax}


CASES = _cases()


def _bound(case, eps):
    """k eps times the case's largest rounding magnitude, k as in the exact rule."""
    k = tolerance("exact", terms=case.summation_length).rtol / EPS64
    _, mags = magnitude(case)
    return k * eps * max(float(np.max(m)) for m in mags.values())


def _max_diff(a, b):
    return max(float(np.max(np.abs(np.asarray(a[k], dtype=np.longdouble) - np.asarray(b[k], dtype=np.longdouble))))
               for k in a)


# --- mpmath: the losses written once more, in 40-digit arithmetic -----------------------

def _mp_sigmoid(z):
    return 1 / (1 + mpmath.exp(-z))


MP_UNARY = {"neg": lambda a: -a, "exp": mpmath.exp, "log": mpmath.log, "sigmoid": _mp_sigmoid,
            "tanh": mpmath.tanh, "relu": lambda a: a if a > 0 else 0 * a}
MP_ACTIVATIONS = {"sigmoid": _mp_sigmoid, "tanh": mpmath.tanh, "relu": MP_UNARY["relu"], "identity": lambda z: z}


def _mp(a):
    return np.vectorize(mpmath.mpf, otypes=[object])(np.asarray(a, dtype=np.float64))


def _apply(f, A):
    return np.vectorize(f, otypes=[object])(A)


def _mp_loss(case, p):
    """The loss at parameters ``p`` (object arrays of mpf, by name), from ``oracles.cases``'s definitions."""
    if isinstance(case, GraphCase):
        return evaluate([p[f"x{i}"][()] for i in range(case.leaves.size)], case.nodes, MP_UNARY)[-1]
    if isinstance(case, ManualCase):
        W = np.array([[p["w11"][()], p["w12"][()]], [p["w21"][()], p["w22"][()]]], dtype=object)
        V = np.array([[p["v11"][()], p["v12"][()]], [p["v21"][()], p["v22"][()]]], dtype=object)
        y = _apply(_mp_sigmoid, _apply(_mp_sigmoid, _mp(case.x) @ W) @ V)
        return sum((y - _mp(case.t)) ** 2)
    if isinstance(case, MLPCase):
        X, T, _ = case.row_layout()
        A = _mp(X)
        for l, act in enumerate(case.activations):
            W = p[f"W{l + 1}"]
            Z = A @ (W if case.layout == "row" else W.T)
            if case.bs is not None:
                Z = Z + p[f"b{l + 1}"]
            A = _apply(MP_ACTIVATIONS[act], Z)
        total = np.sum((A - _mp(T)) ** 2)
        return total if case.loss == "sse" else total / (2 * X.shape[0])
    H = _apply(_mp_sigmoid, _mp(case.X) @ p["W1"] + p["b1"])
    Z = H @ p["W2"] + p["b2"]
    logp = np.array([[z - mpmath.log(sum(mpmath.exp(v) for v in row)) for z in row] for row in Z], dtype=object)
    total = -np.sum(_mp(case.Y) * logp)
    return total if case.reduction == "sum" else total / case.X.shape[0]


def _mp_gradient(case):
    """(loss, {name: float128 array}) by mpmath: each partial derivative by ``mpmath.diff``."""
    with mpmath.workdps(DIGITS):
        p = {k: _mp(v) for k, v in case.params().items()}
        grads = {}
        for name, value in p.items():
            g = np.empty(value.shape, dtype=np.longdouble)
            for idx in np.ndindex(value.shape):
                def f(t, name=name, idx=idx):
                    q = {k: v.copy() for k, v in p.items()}
                    q[name][idx] = q[name][idx] + t
                    return _mp_loss(case, q)
                g[idx] = np.longdouble(mpmath.nstr(mpmath.diff(f, 0), DIGITS))
            grads[name] = g
        return np.longdouble(mpmath.nstr(_mp_loss(case, p), DIGITS)), grads


# --- the tests -----------------------------------------------------------------------

def test_product_gives_the_other_factor_exactly():
    """d(x0 x1)/dx0 = x1 and d/dx1 = x0: Im((x0 + ih) x1) / h = x1 with no rounding at all."""
    case = GraphCase(np.array([1.3, -0.7]), (Node("mul", 0, 1),))
    g = extended.gradient(case)
    assert g.grads["x0"].dtype == np.longdouble and g.grads["x1"].dtype == np.longdouble
    assert g.grads["x0"] == np.longdouble(-0.7) and g.grads["x1"] == np.longdouble(1.3)
    assert g.loss == np.longdouble(1.3) * np.longdouble(-0.7)


def test_sigmoid_both_branches_and_log_softmax_stay_in_long_double():
    """numeric.sigmoid on clongdouble: both branches (1/(1 + e^-z), e^z/(1 + e^z)) return
    clongdouble, value and derivative (Im / h) within 4 eps_ld of mpmath's s and s(1 - s),
    saturated z = ±30 included; the log-softmax at logits 1000 apart (its shift by the
    largest real part) returns clongdouble, log p within 4 eps_ld of the logits' scale and
    d log p / d z_0 within 4 eps_ld, against mpmath."""
    z = np.array([-30.0, -3.7, -1e-3, 0.0, 2.1, 30.0])
    h = extended.STEP
    s = numeric.sigmoid(z.astype(np.clongdouble) + np.clongdouble(1j) * h)
    assert s.dtype == np.clongdouble
    with mpmath.workdps(DIGITS):
        for zi, si in zip(z, s):
            exact = _mp_sigmoid(mpmath.mpf(zi))
            value, slope = (np.longdouble(mpmath.nstr(v, DIGITS)) for v in (exact, exact * (1 - exact)))
            assert abs(si.real - value) <= 4 * EPS_LD * value, (zi, si.real, value)
            assert abs(si.imag / h - slope) <= 4 * EPS_LD * slope, (zi, si.imag / h, slope)
    logits = np.array([1000.0, -1000.0, 999.0])
    direction = np.array([1.0, 0.0, 0.0])        # d logp_j / d z_0 = [j = 0] - p_0
    logp = numeric.log_softmax((logits + np.clongdouble(1j) * h * direction)[None, :])[0]
    assert logp.dtype == np.clongdouble
    with mpmath.workdps(DIGITS):
        z = [mpmath.mpf(v) for v in logits]
        lse = mpmath.log(sum(mpmath.exp(v) for v in z))
        p0 = mpmath.exp(z[0] - lse)
        for j in range(3):
            value = np.longdouble(mpmath.nstr(z[j] - lse, DIGITS))
            slope = np.longdouble(mpmath.nstr((1 if j == 0 else 0) - p0, DIGITS))
            assert abs(logp[j].real - value) <= 4 * EPS_LD * np.max(np.abs(logits)), (j, logp[j].real, value)
            assert abs(logp[j].imag / h - slope) <= 4 * EPS_LD, (j, logp[j].imag / h, slope)


@pytest.mark.parametrize("system", list(CASES))
def test_every_system_agrees_with_mpmath_to_long_double_rounding(system):
    """Loss and gradient against mpmath at 40 digits (``mpmath.diff`` of the losses written
    again): within k eps_ld of the rounding magnitude, i.e. 2^-11 of float64's bound.
    A float64 intermediate anywhere on the path would show as an error near eps64."""
    case = CASES[system]
    loss, grads = _mp_gradient(case)
    got = extended.gradient(case)
    assert {k: v.dtype for k, v in got.grads.items()} == {k: np.dtype(np.longdouble) for k in grads}
    bound = _bound(case, EPS_LD)
    largest = max(float(np.max(np.abs(g))) for g in grads.values())
    assert bound < EPS64 / 2 * largest, f"{system}: the case is too ill-conditioned to tell long double from float64"
    assert _max_diff(got.grads, grads) <= bound, (system, _max_diff(got.grads, grads), bound)
    loss_mag, _ = magnitude(case)
    assert abs(got.loss - loss) <= 64 * EPS_LD * loss_mag, (system, got.loss, loss)


@pytest.mark.parametrize("system", list(CASES))
def test_two_steps_agree_to_long_double_rounding(system):
    """h = 2^-2000 and 3 * 2^-1600 (another mantissa, so other roundings): the truncation
    h^2 f''' is nil at both, and they agree within k eps_ld of the rounding magnitude."""
    case = CASES[system]
    other = 3 * np.ldexp(np.longdouble(1), -1600)
    a, b = extended.gradient(case), extended.gradient(case, step=other)
    assert _max_diff(a.grads, b.grads) <= _bound(case, EPS_LD)


@pytest.mark.parametrize("system", list(CASES))
def test_agrees_with_the_autodiff_oracles_to_float64_rounding(system):
    """Against torch64 and jax64, the project's exact rule (k eps of the rounding magnitude)."""
    case = CASES[system]
    truth = extended.gradient(case)
    for oracle in ("torch64", "jax64"):
        assert _max_diff(truth.grads, oracles.gradient(case, oracle).grads) <= _bound(case, EPS64), oracle


def test_a_downcast_in_the_loss_is_refused(monkeypatch):
    """A loss that computes in complex128 would make the truth one more float64 oracle."""
    def downcast(case, params):
        return numeric.loss(case, {k: v.astype(np.complex128) for k, v in params.items()})
    monkeypatch.setattr(extended, "loss", downcast)
    with pytest.raises(RuntimeError, match="returned complex128"):
        extended.gradient(CASES["manual_222"])


def test_refuses_where_long_double_is_float64(monkeypatch):
    """Windows, macOS on arm64: np.longdouble is float64; the message names its eps."""
    monkeypatch.setattr(extended, "REAL", np.float64)
    monkeypatch.setattr(extended, "COMPLEX", np.complex128)
    with pytest.raises(RuntimeError, match=f"np.longdouble has eps {EPS64:.3g}"):
        extended.gradient(CASES["manual_222"])
