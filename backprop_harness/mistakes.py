"""What known mistakes give: the reference's computation with one mistake applied.

``right(case)`` is the reference's own answer (loss and gradient, by parameter
name, in the case's layout). ``mistaken(case)`` maps each diagnosis code
(``backprop_harness.diagnosis.CODES``) that applies to the case's system to the
answers an implementation with that mistake gives: a list, because some
mistakes come in several forms (a backward pass without topological order
may revisit a value or not). A mistake that cannot even be computed on the
case (back-propagating through W instead of W^T needs square layers) is absent.

Generic mistakes (transposed, sign, scale) are not computed here: they are
transformations of the right answer (``backprop_harness.diagnosis``).
"""
from __future__ import annotations

import numpy as np

from backprop_harness.implementations import reference_gradient
from oracles import Gradient
from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, SoftmaxCase, evaluate
from reference.activations import activation, sigmoid

__all__ = ["right", "mistaken", "batch_size"]

def batch_size(case) -> int:
    """Instances in the case's batch (1 for a graph or 003's single instance)."""
    if isinstance(case, MLPCase):
        return case.batch
    if isinstance(case, SoftmaxCase):
        return case.X.shape[0]
    return 1


# -- the right answer ------------------------------------------------------------------------

def right(case) -> Gradient:
    """The reference's loss and gradient for ``case``."""
    return reference_gradient(case)


# -- the networks, with a mistake ---------------------------------------------------------------

def _derivative(name, z, a, form):
    """f'(z) of activation ``name`` three ways: ``form`` "output" (right: from the output a,
    as a(1 - a)), "preactivation" (that formula applied to z: z(1 - z)) or "double" (the
    activation applied again first: sigmoid(a)(1 - sigmoid(a)))."""
    f, from_output = activation(name)
    if form == "preactivation":
        return from_output(z)
    if form == "double":
        return from_output(f(a))
    return from_output(a)


def _network(X, T, Ws, bs, acts, scale, derivative="output", output_derivative=True, back="transpose"):
    """Loss and gradients of a row-layout network (as reference/mlp.py), one mistake switched on.

    ``back``: "transpose" (right: delta_l W_l^T), "not_transposed" (delta_l W_l where W_l is
    square; where it is not, the product only runs with W_l^T, which code that runs must
    have used: numpy's error made its author transpose there) or "own_layer"
    (delta_l W_{l-1}^T, 001's eq. 1.2; where the shapes fit).
    Returns None when the mistake cannot be computed on these shapes, or ("not_transposed")
    when no layer it would change is square.
    """
    A, Z = [X], []
    for l, W in enumerate(Ws):
        z = A[-1] @ W + (0.0 if bs is None else bs[l])
        Z.append(z)
        A.append(activation(acts[l])[0](z))
    E = A[-1] - T
    L, dY = scale * float(np.sum(E ** 2)), (2 * scale) * E
    depth = len(Ws)
    if back == "not_transposed" and not any(W.shape[0] == W.shape[1] for W in Ws[1:]):
        return None
    delta = dY * _derivative(acts[-1], Z[-1], A[-1], derivative) if output_derivative else dY
    dWs, dbs = [None] * depth, [None] * depth
    for l in range(depth - 1, -1, -1):
        dWs[l], dbs[l] = A[l].T @ delta, delta.sum(axis=0)
        if l == 0:
            break
        square = Ws[l].shape[0] == Ws[l].shape[1]
        B = {"transpose": Ws[l].T, "not_transposed": Ws[l] if square else Ws[l].T, "own_layer": Ws[l - 1].T}[back]
        if B.shape != Ws[l].T.shape:
            return None
        delta = (delta @ B) * _derivative(acts[l - 1], Z[l - 1], A[l], derivative)
    return L, dWs, dbs


_NETWORK_MISTAKES = {
    "derivative_at_preactivation": {"derivative": "preactivation"},
    "double_sigmoid": {"derivative": "double"},
    "missing_output_derivative": {"output_derivative": False},
    "weight_not_transposed": {"back": "not_transposed"},
    "wrong_layer_weight": {"back": "own_layer"},
}


def _mlp_mistakes(case: MLPCase) -> dict:
    X, T, Ws = case.row_layout()
    out = {}
    for code, switches in _NETWORK_MISTAKES.items():
        with np.errstate(all="ignore"):
            result = _network(X, T, Ws, case.bs, case.activations, case.loss_scale, **switches)
        if result is None:
            continue
        L, dWs, dbs = result
        grads = {f"W{l + 1}": d if case.layout == "row" else d.T for l, d in enumerate(dWs)}
        if case.bs is not None:
            grads.update({f"b{l + 1}": d for l, d in enumerate(dbs)})
        out[code] = [Gradient(L, grads, code)]
    return out


def _manual_mistakes(case: ManualCase) -> dict:
    W, V = case.matrices()
    as_mlp = MLPCase(case.x[None, :], case.t[None, :], (W, V), None, ("sigmoid", "sigmoid"), "sse", "row")
    out = {}
    for code, answers in _mlp_mistakes(as_mlp).items():
        g = answers[0]
        w = np.concatenate([g.grads["W1"].ravel(), g.grads["W2"].ravel()])
        out[code] = [Gradient(g.loss, dict(zip(MANUAL_NAMES, map(np.float64, w))), code)]
    return out


def _softmax(Z, axis=1, stable=True):
    Z = Z - Z.max(axis=axis, keepdims=True) if stable else Z
    e = np.exp(Z)
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_network(case: SoftmaxCase, axis=1, stable=True, extra_factor=False, derivative="output"):
    X, Y = case.X, case.Y
    zh = X @ case.W1 + case.b1
    h = activation(case.hidden)[0](zh)
    zpred = h @ case.W2 + case.b2
    P = _softmax(zpred, axis, stable)
    scale = case.loss_scale
    L = -float(np.sum(Y * np.log(P))) * scale + case.l2 * float(np.sum(case.W1 ** 2) + np.sum(case.W2 ** 2))
    dZ = (P - Y) * scale
    if extra_factor:
        dZ = dZ * P * (1 - P)
    dH = dZ @ case.W2.T
    dzh = dH * _derivative(case.hidden, zh, h, derivative)
    grads = {"W1": X.T @ dzh + 2 * case.l2 * case.W1, "b1": dzh.sum(axis=0),
             "W2": h.T @ dZ + 2 * case.l2 * case.W2, "b2": dZ.sum(axis=0)}
    return Gradient(L, grads, "mistaken")


_SOFTMAX_MISTAKES = {
    "softmax_wrong_axis": {"axis": 0},
    "softmax_overflow": {"stable": False},
    "softmax_extra_factor": {"extra_factor": True},
    "derivative_at_preactivation": {"derivative": "preactivation"},
    "double_sigmoid": {"derivative": "double"},
}


def _softmax_mistakes(case: SoftmaxCase) -> dict:
    out = {}
    for code, switches in _SOFTMAX_MISTAKES.items():
        with np.errstate(all="ignore"):
            out[code] = [_softmax_network(case, **switches)]
    return out


# -- the scalar graph, with a mistake ------------------------------------------------------------

_UNARY = {"neg": lambda a: -a, "exp": np.exp, "log": np.log, "sigmoid": sigmoid, "tanh": np.tanh,
          "relu": lambda a: np.maximum(a, 0.0)}


def _local(op, a, b, out, derivative="output"):
    """d out / d a and d out / d b of one node (b's is None for a constant or a unary op)."""
    if op == "add":
        return 1.0, 1.0
    if op == "sub":
        return 1.0, -1.0
    if op == "mul":
        return b, a
    if op == "div":
        return 1.0 / b, -a / (b * b)
    if op == "pow":
        return b * a ** (b - 1), None
    if op == "neg":
        return -1.0, None
    if op == "exp":
        return out, None
    if op == "log":
        return 1.0 / a, None
    if op in ("sigmoid", "tanh"):
        return float(_derivative(op, a, out, derivative)), None
    return float(a > 0), None                                      # relu


def _operands(node):
    return [(0, node.a)] + ([(1, node.b)] if node.b is not None and node.op != "pow" else [])


def _graph_backward(case: GraphCase, values, order="topological", accumulate=True, revisit=False,
                    derivative="output"):
    """Reverse mode over the case's program. ``order``: "topological" (right: each node
    after every node that uses it), "depth_first" (each node's local backward, then its
    operands' at once, recursively: no topological sort; ``revisit`` whether a value
    reached twice propagates twice). ``accumulate`` False overwrites (=) instead of +=.
    Returns the gradient of every value."""
    n = case.leaves.size
    grad = [0.0] * len(values)
    grad[-1] = 1.0

    def step(i):
        node = case.nodes[i - n]
        a = values[node.a] if isinstance(node.a, int) else node.a
        b = node.b if node.op == "pow" else (values[node.b] if isinstance(node.b, int) else node.b)
        locals_ = _local(node.op, a, b, values[i], derivative)
        for k, x in _operands(node):
            if isinstance(x, int):
                grad[x] = grad[x] + locals_[k] * grad[i] if accumulate else locals_[k] * grad[i]
    if order == "topological":
        for i in range(len(values) - 1, n - 1, -1):
            step(i)
        return grad
    seen = set()

    def visit(i):
        if i < n or (i in seen and not revisit):
            return
        seen.add(i)
        step(i)
        for _, x in _operands(case.nodes[i - n]):
            if isinstance(x, int):
                visit(x)
    visit(len(values) - 1)
    return grad


def _leaf_grads(case, grad):
    return {f"x{i}": np.float64(grad[i]) for i in range(case.leaves.size)}


def _graph_mistakes(case: GraphCase) -> dict:
    if not case.nodes:
        return {}
    with np.errstate(all="ignore"):
        values = evaluate(case.leaves, case.nodes, _UNARY)
        forms = {
            "branch_overwritten": [{"accumulate": False},
                                   {"accumulate": False, "order": "depth_first"}],
            "no_topological_order": [{"order": "depth_first"}, {"order": "depth_first", "revisit": True}],
            "derivative_at_preactivation": [{"derivative": "preactivation"}],
            "double_sigmoid": [{"derivative": "double"}],
        }
        return {code: [Gradient(float(values[-1]), _leaf_grads(case, _graph_backward(case, values, **kw)), code)
                       for kw in kws] for code, kws in forms.items()}


def mistaken(case) -> dict:
    """code -> [Gradient, ...]: what an implementation with that mistake answers on ``case``."""
    if isinstance(case, GraphCase):
        return _graph_mistakes(case)
    if isinstance(case, ManualCase):
        return _manual_mistakes(case)
    if isinstance(case, MLPCase):
        return _mlp_mistakes(case)
    if isinstance(case, SoftmaxCase):
        return _softmax_mistakes(case)
    raise TypeError(f"not a case: {type(case).__name__}")

