"""A correct plug-in under whatever ``CONVENTIONS`` it declares (tests/test_conventions.py
writes copies of this file with a ``CONVENTIONS = ...`` line in front, or with
``WRONG`` set to compute another convention than the one declared).

Written from the protocol's description alone, in plain numpy, so that it is a
second implementation of every convention beside ``reference/``.
"""
import numpy as np

CONVENTIONS = globals().get("CONVENTIONS", {})
# {"mlp": {key: value}} computed instead of the declared (a mismatch), and a loss of yet
# another convention (an inconsistent implementation)
WRONG = globals().get("WRONG", {})
WRONG_LOSS = globals().get("WRONG_LOSS", {})

_ACT = {"sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
        "tanh": (np.tanh, lambda a: 1 - a * a),
        "relu": (lambda z: np.maximum(z, 0.0), lambda a: (a > 0) * 1.0),
        "identity": (lambda z: z, lambda a: np.ones_like(a))}
_FACTOR = {"sse": lambda n, k: 1.0, "half_sse": lambda n, k: 0.5, "mean": lambda n, k: 1 / n,
           "half_mean": lambda n, k: 0.5 / n, "mean_all": lambda n, k: 1 / (n * k),
           "half_mean_all": lambda n, k: 0.5 / (n * k)}


def _conv(system, overrides=None):
    c = dict(CONVENTIONS.get(system, {}))
    c.update((overrides or {}).get(system, {}))
    return c


def _mlp(X, T, Ws, bs, c):
    column = c.get("layout", "row") == "column"
    if column:                                  # work in rows: one instance per row
        X, T, Ws = X.T, T.T, [W.T for W in Ws]
    bs = [np.reshape(b, -1) for b in bs] if bs is not None else [np.zeros(W.shape[1]) for W in Ws]
    acts = [c.get("activation", "sigmoid")] * len(Ws)
    if c.get("output_activation"):
        acts[-1] = c["output_activation"]
    A = [X]
    for W, b, act in zip(Ws, bs, acts):
        A.append(_ACT[act][0](A[-1] @ W + b))
    n, k = T.shape
    f = _FACTOR[c.get("loss", "sse")](n, k)
    E = A[-1] - T
    return A, acts, f, E, Ws, column


def mlp_gradients(X, T, Ws, bs=None):
    c = _conv("mlp", WRONG)
    A, acts, f, E, Ws_row, column = _mlp(X, T, Ws, bs, c)
    loss = f * np.sum(E ** 2)
    if WRONG_LOSS:
        _, _, f2, _, _, _ = _mlp(X, T, Ws, bs, _conv("mlp", WRONG_LOSS))
        loss = f2 * np.sum(E ** 2)
    delta = 2 * f * E * _ACT[acts[-1]][1](A[-1])
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l] = A[l].T @ delta
        dbs[l] = delta.sum(axis=0)
        if l:
            delta = (delta @ Ws_row[l].T) * _ACT[acts[l - 1]][1](A[l])
    if column:
        dWs = [d.T for d in dWs]
    if bs is None:
        return loss, dWs
    return loss, dWs, [d.reshape(np.shape(b)) for d, b in zip(dbs, bs)]


def softmax_gradients(X, Y, W1, b1, W2, b2):
    c = _conv("softmax", WRONG)
    column = c.get("layout", "row") == "column"
    shapes = (np.shape(b1), np.shape(b2))
    if column:
        X, W1, W2 = X.T, W1.T, W2.T
    b1, b2 = np.reshape(b1, -1), np.reshape(b2, -1)
    k = W2.shape[1]
    if c.get("labels", "one_hot") == "index":
        Y = np.eye(k)[np.asarray(Y, dtype=int)]
    elif column:
        Y = Y.T
    f, fp = _ACT[c.get("hidden", "sigmoid")]
    h = f(X @ W1 + b1)
    Z = h @ W2 + b2
    Z = Z - Z.max(axis=1, keepdims=True)
    logp = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    s = 1 / X.shape[0] if c.get("reduction", "sum") == "mean" else 1.0
    lam = c.get("l2", 0.0) * (0.5 if c.get("l2_form", "lambda") == "half_lambda" else 1.0)
    loss = -s * np.sum(Y * logp) + lam * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    if WRONG_LOSS:
        s2 = 1 / X.shape[0] if _conv("softmax", WRONG_LOSS).get("reduction", "sum") == "mean" else 1.0
        loss = -s2 * np.sum(Y * logp) + lam * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    dZ = s * (np.exp(logp) - Y)
    dW2 = h.T @ dZ + 2 * lam * W2
    dz = (dZ @ W2.T) * fp(h)
    dW1 = X.T @ dz + 2 * lam * W1
    if column:
        dW1, dW2 = dW1.T, dW2.T
    return loss, {"W1": dW1, "b1": dz.sum(axis=0).reshape(shapes[0]),
                  "W2": dW2, "b2": dZ.sum(axis=0).reshape(shapes[1])}
