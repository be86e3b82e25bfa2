"""Plug-in: user code written in HIPS autograd 1.9.1 (PyPI), our own loss function
in autograd.numpy, gradients by autograd.grad. Style follows autograd's
examples/neural_net.py (row layout, np.dot(inputs, W) + b, bias vectors (n,),
tanh hidden units) but as a regression MLP with a Keras/torch-style mean squared
error over all n*k entries and a linear output layer.
"""
import autograd.numpy as anp
from autograd import value_and_grad

CONVENTIONS = {
    "mlp": {
        "layout": "row",
        "loss": "mean_all",          # anp.mean((Y - T) ** 2)
        "bias": "vector",
        "batch": "any",
        "activation": "tanh",
        "output_activation": "identity",
    },
}


def predict(params, X):
    Ws, bs = params
    A = X
    for i, (W, b) in enumerate(zip(Ws, bs)):
        Z = anp.dot(A, W) + b
        A = Z if i == len(Ws) - 1 else anp.tanh(Z)
    return A


def mse(params, X, T):
    return anp.mean((predict(params, X) - T) ** 2)


_loss_and_grad = value_and_grad(mse)


def mlp_gradients(X, T, Ws, bs):
    loss, (dWs, dbs) = _loss_and_grad((list(Ws), list(bs)), X, T)
    return loss, list(dWs), list(dbs)
