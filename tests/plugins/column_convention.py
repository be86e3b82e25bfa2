"""001's conventions, declared: column layout, 1/(2n) mean loss, tanh hidden layers with a
sigmoid output; softmax cross-entropy averaged over the batch. Correct."""
from reference import mlp, softmax

CONVENTIONS = {
    "mlp": {"layout": "column", "loss": "half_mean", "activation": "tanh", "output_activation": "sigmoid"},
    "softmax": {"reduction": "mean"},
}


def mlp_gradients(X, T, Ws, bs):
    """X (d0, n), Ws[l] (d_l+1, d_l), bs[l] (d_l+1, 1): A_l+1 = f(W A_l + b)."""
    acts = ["tanh"] * (len(Ws) - 1) + ["sigmoid"]
    g = mlp.loss_and_gradients(X, T, Ws, [b.ravel() for b in bs], activations=acts, loss="half_mean",
                               layout="column")
    return g.loss, g.dWs, [db.reshape(-1, 1) for db in g.dbs]


def softmax_gradients(X, Y, W1, b1, W2, b2):
    return softmax.loss_and_gradients(X, Y, W1, b1, W2, b2, reduction="mean")

