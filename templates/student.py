"""Your implementation, checked by ``pytest --impl path/to/this_file.py``.

Copy this file, fill in what you have written, and leave the rest raising
``NotImplementedError``: the harness reports those as "not provided", never as
failures. Everything is float64 numpy; return float64 (float32 is reported).
Do not modify the arrays you are given (copy them first if you must).

Conventions are the posts' own; to use other ones for the networks, declare them
here (docs/conventions.md lists every choice: the loss's factor, bias shapes, one
instance at a time, the softmax network's hidden activation, integer labels, an L2
term, the column layout), e.g. for the column layout and loss of "Backpropogation from
scratch: Part I":

    CONVENTIONS = {"mlp": {"layout": "column", "loss": "half_mean"}}

If your answer is right under another convention than the one declared, the report
says so and prints the line to put here.
"""
import numpy as np  # noqa: F401  (you will need it)

CONVENTIONS = {}


# --- 1. scalar computational graph (micrograd's Value) --------------------------------------------

class Value:
    """A scalar node of a computational graph.

    ``Value(x)`` holds ``data`` (a float) and ``grad`` (0.0 until ``backward()``).
    The harness builds graphs with Python operators and these methods, using only
    those your class has (each missing one is listed in the report):

        a + b, a - b, a * b, a / b, -a     (b may also be a float, on either side)
        a ** c                             (c a float constant: 2.0, -1.0, 0.5, ...)
        a.exp(), a.log(), a.sigmoid(), a.tanh(), a.relu()

    ``out.backward()`` sets ``grad`` of every value the output depends on to
    d out / d value (accumulated where a value is used more than once), and
    ``out.grad`` to 1. The harness then reads ``leaf.grad`` for every leaf.
    """

    def __init__(self, data):
        raise NotImplementedError

    def backward(self):
        raise NotImplementedError


# --- 2. the 2-2-2 sigmoid network of "A worked example of backpropagation", scalar by scalar ----------

def forward(x, w):
    """(y1, y2) for one instance.

    x = [x1, x2]; w = [w11, w12, w21, w22, v11, v12, v21, v22] (the post's order):
        h1 = sigmoid(x1 w11 + x2 w21),  h2 = sigmoid(x1 w12 + x2 w22)
        y1 = sigmoid(h1 v11 + h2 v21),  y2 = sigmoid(h1 v12 + h2 v22)
    """
    raise NotImplementedError


def gradients(x, t, w):
    """The 8 partial derivatives of L = (y1 - t1)^2 + (y2 - t2)^2, in w's order:
    [dL/dw11, dL/dw12, dL/dw21, dL/dw22, dL/dv11, dL/dv12, dL/dv21, dL/dv22]
    (a list or array of 8 numbers, or a dict keyed "w11" ... "v22")."""
    raise NotImplementedError


# --- 3. vectorized MLP of any depth ----------------------------------------------------------------

def mlp_gradients(X, T, Ws, bs):
    """(loss, dWs, dbs) for a network of len(Ws) layers.

    Row layout (as in the worked example's numpy code): X (n, d0), T (n, dL), Ws[l] (d_l, d_l+1), bs[l] (d_l+1,);
        A_0 = X,  A_l+1 = sigmoid(A_l @ Ws[l] + bs[l])
        loss = sum over the batch and the outputs of (A_L - T)^2
    dWs[l] and dbs[l] have the shapes of Ws[l] and bs[l]; lists (or tuples) of arrays.
    """
    raise NotImplementedError


class NeuralNetwork:
    """The class of "A worked example of backpropagation": two sigmoid layers without biases.

    The harness creates ``NeuralNetwork(input_dim, hidden_dim, output_dim)``, assigns
    ``net.W`` (input_dim, hidden_dim) and ``net.V`` (hidden_dim, output_dim), calls
    ``net.forward(X)`` -> Y = sigmoid(sigmoid(X @ W) @ V), then ``net.backward(T)`` ->
    (grad_W, grad_V) of L = sum of (Y - T)^2 over the batch and the outputs.
    """

    def __init__(self, input_dim=2, hidden_dim=2, output_dim=2):
        raise NotImplementedError

    def forward(self, X):
        raise NotImplementedError

    def backward(self, T):
        raise NotImplementedError


# --- 4. softmax / cross-entropy network ("A Gentle Introduction to Backpropagation in Neural Networks") -

def softmax_gradients(X, Y, W1, b1, W2, b2):
    """(loss, {"W1": ..., "b1": ..., "W2": ..., "b2": ...}).

    X (n, d), Y (n, k) one-hot, W1 (d, h), b1 (h,), W2 (h, k), b2 (k,):
        H = sigmoid(X @ W1 + b1),  Z = H @ W2 + b2,  P = softmax(Z) over each row
        loss = -sum over the batch of log P[i, class of i]
    Logits can be near +-1000: subtract each row's maximum before exp.
    """
    raise NotImplementedError
