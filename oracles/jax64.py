"""The JAX oracle: the four losses in jax.numpy, float64, jit-compiled once per shape bucket.

Reverse mode (``gradient``) is ``jax.value_and_grad``, forward mode
(``directional``) is ``jax.jvp``. The losses follow the definitions in
``oracles.cases`` with JAX's own primitives (``jax.nn.sigmoid``,
``jax.nn.log_softmax``), independently of ``reference/``, ``oracles.numeric``
and ``oracles.torch64``.

Why buckets. Un-jitted ``jax.grad`` dispatches op by op, and ``jax.jit`` compiles
once per new shape at a cost of thousands of compiled calls
(docs/design-figures.md), while Hypothesis draws a new shape nearly every
example. So every case is padded up to a *bucket* and one compiled function
serves every case in it:

* sizes: every dimension (batch, each layer's width, softmax's features, hidden
  units and classes, a graph's leaves) is rounded up to ``bucket(d)``, the next
  power of two and at least 8; a graph's node count to the next power of two
  and at least 64 (a padding node costs far less than a compilation);
* MLP depth: rounded up to ``depth_bucket(L)``, the next power of two and at
  least 4, by appending identity layers (W = I, b = 0, f = identity) after the
  output layer; x * 1 + 0 is exact, so they carry the output through unchanged
  and its cotangent back unchanged;
* choices are traced data, not static arguments: the activation of each layer
  is an integer code (``lax.switch``), the loss's factor (``case.loss_scale``)
  and softmax's L2 coefficient are numbers, and a graph's program is arrays of
  op codes, operand indices and constants interpreted by one ``lax.scan``.

So a bucket is one compilation per mode (the key is in
``Gradient.details["bucket"]``): every MLP of depth <= 4 and sizes <= 8, whatever
its activations, loss, layout and biases, is one bucket; every softmax network
of sizes <= 8 one; every graph of <= 8 leaves and <= 64 nodes one.

Why the padding changes nothing. Padding adds exact zeros or selects them:

* padded batch rows (X = 0, T = 0) and padded output units are selected out of
  the loss by ``jnp.where``, so their cotangent is exactly 0;
* a padded hidden unit has z = 0 and a = f(0), which may be non-zero (s(0) = 1/2),
  but its outgoing weights are 0: it adds a * 0 = 0 to every sum, forward, and
  its own cotangent, delta W^T over zero rows, is 0, backward;
* padded softmax classes get a logit of -inf, so exp gives exactly 0 and the
  log-sum-exp is the unpadded one; their log-probability is -inf, and Y * -inf
  would be NaN (0 * inf), so those entries are selected away (``jnp.where``),
  never multiplied by a 0 mask, and the cotangent reaching them is exactly 0;
* a biasless MLP runs with b = 0 (z + 0 is exact) and reports no b gradients;
* padding graph nodes run the "pad" branch (a constant 0) into slots nobody
  reads; ``lax.switch`` inside ``lax.scan`` runs only the selected branch, so
  an op that could be undefined (log of a negative) is never evaluated for an
  operand it was not given, forward or backward.

What remains is the summation order of XLA's dot products on padded shapes: a
few ulps of each sum's terms, amplified only where ``oracles.rounding`` expects
it (through a tanh output near -1, say, where 1 + a loses bits).

A graph's node count has one bucket of at least 64 nodes rather than buckets of
8, 16, 32 and 64: each extra bucket is another compilation, and a padding node
costs far less.

``compile_count()`` counts traces, which under ``jax.jit`` are one-to-one with
compilations.

Compiled executables are also kept on disk (JAX's persistent compilation cache,
in ``BACKPROP_JAX_CACHE``, default ~/.cache/backprop-harness/jax; empty disables
it): a later process that needs a bucket loads it instead of compiling it again,
which saves most of what a second run of the suite, or a plug-in run after it,
would spend on JAX.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)   # before any array exists: float64 throughout
_CACHE = os.environ.get("BACKPROP_JAX_CACHE", str(Path.home() / ".cache" / "backprop-harness" / "jax"))
if _CACHE:
    jax.config.update("jax_compilation_cache_dir", _CACHE)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)   # every bucket counts
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

from oracles import Gradient  # noqa: E402
from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, Node, SoftmaxCase  # noqa: E402

__all__ = ["gradient", "directional", "compile_count", "bucket", "depth_bucket", "precompile"]

_traces = 0


def compile_count() -> int:
    """How many jit compilations this module has caused (all systems, both modes); waits for
    a background precompilation (``oracles.precompile_jax``) first, so that counts taken
    around a call are that call's own."""
    import oracles
    warm = oracles.jax_warmup_thread()
    if warm is not None and warm is not threading.current_thread():
        warm.join()
    return _traces


def _smallest_cases():
    """One case of each system in its smallest bucket, which every case the suite's strategies
    draw falls in (widths and batch <= 8, depth <= 4, <= 8 leaves and 64 nodes)."""
    one = np.ones((1, 1))
    return [MLPCase(one, one, (one,), (np.ones(1),)), MLPCase(one, one, (one,)),
            SoftmaxCase(one, np.ones((1, 2)), one, np.ones(1), np.ones((1, 2)), np.ones(2)),
            ManualCase([1.0, 1.0], [0.0, 1.0], np.ones(8)), GraphCase([0.5], (Node("add", 0, 0),))]


def precompile(modes=("gradient", "directional")):
    """Compile the smallest bucket of every system (``modes``: reverse mode, forward mode)."""
    for case in _smallest_cases():
        if "gradient" in modes:
            gradient(case)
        if "directional" in modes:
            directional(case, {k: np.zeros(np.shape(v)) for k, v in case.params().items()})


def _traced():
    # runs in Python only while jax.jit traces, i.e. once per compilation
    global _traces
    _traces += 1


def bucket(d: int, least: int = 8) -> int:
    """The padded size of a dimension d: the next power of two, at least ``least``."""
    return max(least, 1 << max(0, int(d) - 1).bit_length())


def depth_bucket(depth: int) -> int:
    """The padded depth of an MLP: the next power of two, at least 4."""
    return bucket(depth, least=4)


def _pad(a, shape):
    """``a`` (float64) in the top-left corner of zeros of ``shape``."""
    a = np.asarray(a, dtype=np.float64)
    out = np.zeros(shape)
    out[tuple(slice(0, s) for s in a.shape)] = a
    return out


def _mask(n, size):
    return np.arange(size) < n


def _relu(z):
    """max(z, 0) with derivative 1 where z > 0 and 0 elsewhere, the reference's subgradient at the
    kink (jnp.maximum would give 1/2 at z = 0)."""
    return jnp.where(z > 0, z, 0.0)


def _identity(z):
    return z


# --- MLP ------------------------------------------------------------------------

ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")   # the lax.switch codes, in this order
_ACTIVATION_FNS = (jax.nn.sigmoid, jnp.tanh, _relu, _identity)


def _mlp_loss(params, data):
    """Row layout, A_0 = X, A_l = f_l(A_{l-1} W_l + b_l); L = scale * sum of masked (A_L - T)^2.

    ``codes[l]`` picks f_l from ``ACTIVATIONS``; ``scale`` is the case's ``loss_scale``."""
    Ws, bs = params
    X, T, mask, codes, scale = data
    A = X
    for l, (W, b) in enumerate(zip(Ws, bs)):
        A = lax.switch(codes[l], _ACTIVATION_FNS, A @ W + b)
    E = jnp.where(mask, A - T, 0.0)
    return scale * jnp.sum(E * E)


def _mlp_shapes(case: MLPCase):
    """(batch bucket, padded widths d_0..d_Lb) with the identity layers' widths appended."""
    dims = case.dims
    padded = [bucket(d) for d in dims]
    padded += [padded[-1]] * (depth_bucket(len(case.Ws)) - len(case.Ws))
    return bucket(case.batch), tuple(padded)


def _mlp_params(case: MLPCase, values: dict, tangent: bool):
    """Padded row-layout (Ws, bs); a tangent's padding is all zeros, the parameters' padding
    layers are identities."""
    _, D = _mlp_shapes(case)
    L = len(case.Ws)
    Ws, bs = [], []
    for l in range(len(D) - 1):
        if l < L:
            W = values[f"W{l + 1}"]
            Ws.append(_pad(W if case.layout == "row" else np.transpose(W), (D[l], D[l + 1])))
            b = values[f"b{l + 1}"] if case.bs is not None else np.zeros(0)
            bs.append(_pad(b, (D[l + 1],)))
        else:
            Ws.append(np.zeros((D[l], D[l + 1])) if tangent else np.eye(D[l], D[l + 1]))
            bs.append(np.zeros(D[l + 1]))
    return tuple(Ws), tuple(bs)


def _mlp_data(case: MLPCase):
    nb, D = _mlp_shapes(case)
    X, T, _ = case.row_layout()
    n, L = case.batch, len(case.Ws)
    for name in case.activations:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
    codes = [ACTIVATIONS.index(a) for a in case.activations] + [ACTIVATIONS.index("identity")] * (len(D) - 1 - L)
    mask = _mask(n, nb)[:, None] & _mask(T.shape[1], D[-1])[None, :]
    return (_pad(X, (nb, D[0])), _pad(T, (nb, D[-1])), mask, np.array(codes, dtype=np.int32),
            np.float64(case.loss_scale))


def _mlp_unpad(case: MLPCase, grads) -> dict:
    dWs, dbs = grads
    out = {}
    for l, (W, dW) in enumerate(zip(case.Ws, dWs)):
        rows, cols = W.shape if case.layout == "row" else W.shape[::-1]
        g = dW[:rows, :cols]
        out[f"W{l + 1}"] = np.array(g if case.layout == "row" else g.T)
    if case.bs is not None:
        out.update({f"b{l + 1}": np.array(db[:b.size]) for l, (b, db) in enumerate(zip(case.bs, dbs))})
    return out


# --- softmax --------------------------------------------------------------------

def _softmax_loss(params, data):
    """h = f(X W1 + b1) (``code`` picks f from ``HIDDEN``), z = h W2 + b2,
    L = -scale sum Y log softmax(z) + l2 (sum W1^2 + sum W2^2), with padded classes at
    z = -inf and padded entries selected out (padded weights are 0: no L2 term)."""
    W1, b1, W2, b2 = params
    X, Y, rows, classes, scale, code, l2 = data
    h = lax.switch(code, _ACTIVATION_FNS, X @ W1 + b1)
    logits = jnp.where(classes, h @ W2 + b2, -jnp.inf)
    logp = jax.nn.log_softmax(logits, axis=1)
    # select, not multiply: Y * logp is 0 * -inf = NaN on padded classes
    terms = jnp.where(rows[:, None] & classes[None, :], Y * logp, 0.0)
    return -scale * jnp.sum(terms) + l2 * (jnp.sum(W1 * W1) + jnp.sum(W2 * W2))


def _softmax_shapes(case: SoftmaxCase):
    (n, d), h, k = case.X.shape, case.W1.shape[1], case.W2.shape[1]
    return tuple(bucket(s) for s in (n, d, h, k))


def _softmax_params(case: SoftmaxCase, values: dict, tangent: bool):
    _, db, hb, kb = _softmax_shapes(case)
    return (_pad(values["W1"], (db, hb)), _pad(values["b1"], (hb,)),
            _pad(values["W2"], (hb, kb)), _pad(values["b2"], (kb,)))


def _softmax_data(case: SoftmaxCase):
    nb, db, _, kb = _softmax_shapes(case)
    n, k = case.Y.shape
    return (_pad(case.X, (nb, db)), _pad(case.Y, (nb, kb)), _mask(n, nb), _mask(k, kb),
            np.float64(case.loss_scale), np.int32(ACTIVATIONS.index(case.hidden)), np.float64(case.l2))


def _softmax_unpad(case: SoftmaxCase, grads) -> dict:
    return {name: np.array(g[tuple(slice(0, s) for s in p.shape)])
            for (name, p), g in zip(case.params().items(), grads)}


# --- manual_222 -----------------------------------------------------------------

def _manual_loss(w, data):
    """003's network: W, V = w[:4], w[4:] as 2x2 (row layout), y = s(s(x W) V), L = sum (y - t)^2."""
    x, t = data
    W, V = w[:4].reshape(2, 2), w[4:].reshape(2, 2)
    y = jax.nn.sigmoid(jax.nn.sigmoid(x @ W) @ V)
    return jnp.sum((y - t) ** 2)


def _manual_params(case: ManualCase, values: dict, tangent: bool):
    return np.array([values[name] for name in MANUAL_NAMES], dtype=np.float64)


def _manual_data(case: ManualCase):
    return case.x, case.t


def _manual_unpad(case: ManualCase, grads) -> dict:
    return {name: np.array(grads[i]) for i, name in enumerate(MANUAL_NAMES)}


# --- scalar graph ---------------------------------------------------------------

_GRAPH_BRANCHES = {
    "neg": lambda a, b: -a,
    "exp": lambda a, b: jnp.exp(a),
    "log": lambda a, b: jnp.log(a),
    "sigmoid": lambda a, b: jax.nn.sigmoid(a),
    "tanh": lambda a, b: jnp.tanh(a),
    "relu": lambda a, b: _relu(a),
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    # the exponent is a constant: no d/dk term (it would be log(a) a^k, NaN for a < 0)
    "pow": lambda a, b: a ** lax.stop_gradient(b),
    "pad": lambda a, b: jnp.zeros_like(a),     # padding nodes: a value nobody reads
}
GRAPH_NODES_LEAST = 64
GRAPH_OPS = tuple(_GRAPH_BRANCHES)   # the lax.switch codes, in this order
_GRAPH_FNS = tuple(_GRAPH_BRANCHES.values())


def _graph_loss(leaves, data):
    """Interpret the program: values = leaves, then one slot per node, each node
    v = op(a, b) with an operand either a value (by index) or a constant; the output is
    ``values[out]``. One ``lax.scan`` over the (padded) nodes, ``lax.switch`` on the op code."""
    ops, a_idx, b_idx, a_const, b_const, a_is_const, b_is_const, out = data
    n_leaves, n_nodes = leaves.shape[0], ops.shape[0]
    values = jnp.concatenate([leaves, jnp.zeros(n_nodes, dtype=leaves.dtype)])

    def step(values, node):
        i, op, ai, bi, ac, bc, aic, bic = node
        a = jnp.where(aic, ac, values[ai])
        b = jnp.where(bic, bc, values[bi])
        return values.at[n_leaves + i].set(lax.switch(op, _GRAPH_FNS, a, b)), None

    nodes = (jnp.arange(n_nodes), ops, a_idx, b_idx, a_const, b_const, a_is_const, b_is_const)
    values, _ = lax.scan(step, values, nodes)
    return values[out]


def _graph_shapes(case: GraphCase):
    # a padding node costs far less than a compilation: one bucket for up to 64 nodes
    return bucket(case.leaves.size), bucket(len(case.nodes), least=GRAPH_NODES_LEAST)


def _graph_params(case: GraphCase, values: dict, tangent: bool):
    lb, _ = _graph_shapes(case)
    return _pad([values[f"x{i}"] for i in range(case.leaves.size)], (lb,))


def _graph_data(case: GraphCase):
    """The program as arrays: value i of the case (leaves first) is slot i for a leaf and
    slot lb + (i - n_leaves) for a node; a float operand is a constant."""
    lb, nb = _graph_shapes(case)
    n_leaves = case.leaves.size
    if n_leaves == 0 and not case.nodes:
        raise ValueError("a GraphCase with neither leaves nor nodes has no output")
    ops = np.full(nb, GRAPH_OPS.index("pad"), dtype=np.int32)
    idx = np.zeros((2, nb), dtype=np.int32)
    const = np.zeros((2, nb))
    is_const = np.ones((2, nb), dtype=bool)

    def slot(i):
        return i if i < n_leaves else lb + i - n_leaves

    for j, node in enumerate(case.nodes):
        if node.op not in GRAPH_OPS or node.op == "pad":
            raise ValueError(f"unknown graph operation {node.op!r} in node {j}; "
                             f"expected one of {GRAPH_OPS[:-1]}")
        ops[j] = GRAPH_OPS.index(node.op)
        for k, operand in enumerate((node.a, node.b)):
            if isinstance(operand, (int, np.integer)) and not isinstance(operand, bool):
                idx[k, j], is_const[k, j] = slot(int(operand)), False
            elif operand is not None:
                const[k, j] = float(operand)
    out = slot(n_leaves + len(case.nodes) - 1)
    return ops, idx[0], idx[1], const[0], const[1], is_const[0], is_const[1], np.int32(out)


def _graph_unpad(case: GraphCase, grads) -> dict:
    return {f"x{i}": np.array(grads[i]) for i in range(case.leaves.size)}


# --- dispatch -------------------------------------------------------------------

def _compiled(loss):
    """(value_and_grad, jvp), each jit-compiled; jit keys its cache on the padded shapes, so
    one compilation per bucket and mode."""
    def value_and_grad(params, data):
        _traced()
        return jax.value_and_grad(loss)(params, data)

    def jvp(params, data, tangents):
        _traced()
        return jax.jvp(lambda p: loss(p, data), (params,), (tangents,))[1]

    return jax.jit(value_and_grad), jax.jit(jvp)


_SYSTEMS = {   # case type -> (params, data, unpad, shapes, compiled)
    MLPCase: (_mlp_params, _mlp_data, _mlp_unpad, _mlp_shapes, _compiled(_mlp_loss)),
    SoftmaxCase: (_softmax_params, _softmax_data, _softmax_unpad, _softmax_shapes, _compiled(_softmax_loss)),
    ManualCase: (_manual_params, _manual_data, _manual_unpad, lambda case: (), _compiled(_manual_loss)),
    GraphCase: (_graph_params, _graph_data, _graph_unpad, _graph_shapes, _compiled(_graph_loss)),
}


def _system(case):
    try:
        return _SYSTEMS[type(case)]
    except KeyError:
        raise ValueError(f"not a case: {type(case).__name__}; expected one of "
                         f"{', '.join(t.__name__ for t in _SYSTEMS)}") from None


def _float64(x):
    x = np.asarray(x)
    if x.dtype != np.float64:
        raise RuntimeError(f"JAX computed in {x.dtype}, not float64: jax_enable_x64 was switched off")
    return x


def gradient(case) -> Gradient:
    """The loss and d loss / d parameter for every name in ``case.params()``, by reverse mode
    on the padded case. Raises ValueError for an unknown case type or graph operation."""
    params, data, unpad, shapes, (value_and_grad, _) = _system(case)
    loss, grads = jax.device_get(value_and_grad(params(case, case.params(), False), data(case)))
    grads = {name: _float64(g) for name, g in unpad(case, grads).items()}
    return Gradient(float(_float64(loss)), grads, "jax64",
                    details={"bucket": (case.system,) + tuple(shapes(case))})


def directional(case, direction: dict) -> float:
    """d/de loss(params + e * direction) at e = 0 by forward mode (``jax.jvp``), one pass; the
    direction is padded with zeros, so padding moves nothing."""
    params, data, _, _, (_, jvp) = _system(case)
    tangent = jvp(params(case, case.params(), False), data(case), params(case, direction, True))
    return float(_float64(jax.device_get(tangent)))
