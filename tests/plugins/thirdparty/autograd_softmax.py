"""Plug-in: user code written in HIPS autograd 1.9.1: a one-hidden-layer softmax
classifier in the style of autograd's examples/neural_net.py (tanh hidden layer,
log-softmax via logsumexp, one-hot targets), with a batch-mean cross-entropy and a
0.5*lambda*sum(W^2) penalty on the weight matrices only (the example itself
penalises every parameter, biases included).
"""
import autograd.numpy as anp
from autograd import value_and_grad
from autograd.scipy.special import logsumexp

L2 = 0.01

CONVENTIONS = {
    "softmax": {
        "hidden": "tanh",
        "reduction": "mean",
        "labels": "one_hot",
        "l2": L2,
        "l2_form": "half_lambda",
        "layout": "row",
        "bias": "vector",
    },
}


def log_probs(p, X):
    H = anp.tanh(anp.dot(X, p["W1"]) + p["b1"])
    S = anp.dot(H, p["W2"]) + p["b2"]
    return S - logsumexp(S, axis=1, keepdims=True)


def objective(p, X, Y):
    n = X.shape[0]
    nll = -anp.sum(log_probs(p, X) * Y) / n
    return nll + 0.5 * L2 * (anp.sum(p["W1"] ** 2) + anp.sum(p["W2"] ** 2))


_loss_and_grad = value_and_grad(objective)


def softmax_gradients(X, Y, W1, b1, W2, b2):
    loss, g = _loss_and_grad({"W1": W1, "b1": b1, "W2": W2, "b2": b2}, X, Y)
    return loss, dict(g)
