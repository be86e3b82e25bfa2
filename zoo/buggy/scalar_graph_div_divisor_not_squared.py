"""Buggy: the divisor's derivative of a / b taken as -a / b (the square forgotten).

The student wrote the local gradients of the quotient as
``[(self, 1.0 / b), (other, -a / b)]``: d(a/b)/db is -a / b^2, not -a / b. The
dividend's gradient is right. No diagnosis code describes it (a slip in one
operation's derivative).
"""
import math

ZOO = {"system": "scalar_graph", "mistake": "divisor derivative -a/b (forgot the square)", "fails": ["oracles"], "diagnosis": None,
       "truth": {"wrong": [], "layer": None, "op": "div", "operand": "b", "pattern": "-a/b instead of -a/b^2", "looks_like": None}}


def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class Value:
    """A scalar with its gradient. Every node remembers its inputs together with the
    local gradient d(node)/d(input), computed in the forward pass (002: "every node
    ... can compute ... the local gradient of the node without even being aware of
    the rest of the graph")."""

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = tuple(parents)   # (input Value, local gradient) pairs
        self.op = op

    def __repr__(self):
        return f"Value({self.data}, grad={self.grad})"

    @staticmethod
    def wrap(x):
        return x if isinstance(x, Value) else Value(x)

    # binary operations
    def __add__(self, other):
        other = Value.wrap(other)
        return Value(self.data + other.data, [(self, 1.0), (other, 1.0)], "+")

    def __sub__(self, other):
        other = Value.wrap(other)
        return Value(self.data - other.data, [(self, 1.0), (other, -1.0)], "-")

    def __mul__(self, other):
        other = Value.wrap(other)
        return Value(self.data * other.data, [(self, other.data), (other, self.data)], "*")

    def __truediv__(self, other):
        other = Value.wrap(other)
        a, b = self.data, other.data
        return Value(a / b, [(self, 1.0 / b), (other, -a / b)], "/")

    def __pow__(self, n):
        x = self.data
        return Value(x ** n, [(self, n * x ** (n - 1))], "**")

    def __radd__(self, other):
        return Value.wrap(other) + self

    def __rsub__(self, other):
        return Value.wrap(other) - self

    def __rmul__(self, other):
        return Value.wrap(other) * self

    def __rtruediv__(self, other):
        return Value.wrap(other) / self

    # unary operations
    def __neg__(self):
        return Value(-self.data, [(self, -1.0)], "neg")

    def exp(self):
        e = math.exp(self.data)
        return Value(e, [(self, e)], "exp")

    def log(self):
        x = self.data
        return Value(math.log(x), [(self, 1.0 / x)], "log")

    def sigmoid(self):
        s = _sigmoid(self.data)
        return Value(s, [(self, s * (1 - s))], "sigmoid")

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, [(self, 1 - t * t)], "tanh")

    def relu(self):
        x = self.data
        return Value(max(x, 0.0), [(self, 1.0 if x > 0 else 0.0)], "relu")

    def backward(self):
        # depth-first search with an explicit stack: a node goes into `order`
        # only after everything it was computed from
        order, seen = [], set()
        stack = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for parent, _ in node.parents:
                if id(parent) not in seen:
                    stack.append((parent, False))

        # from the output back to the inputs: upstream gradient times local gradient
        self.grad = 1.0
        for node in reversed(order):
            for parent, local in node.parents:
                parent.grad += local * node.grad
