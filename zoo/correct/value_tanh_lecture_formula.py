"""Correct: a Value whose tanh is the lecture's formula (e^2x - 1)/(e^2x + 1), kept finite and accurate.

Style: every operation goes through one of two helpers, ``_unary(f, df)`` and
``_binary(other, f, dfa, dfb)``, which record the operands with their local
derivatives as numbers; ``backward()`` sorts the graph topologically (recursive
depth-first search) and multiplies upstream gradient by local derivative, accumulating.

tanh follows micrograd's lecture, t = (exp(2x) - 1) / (exp(2x) + 1), rewritten so that
it never overflows and never cancels: with m = expm1(-2|x|) = e^-2|x| - 1 (in [-1, 0]),
t = sign(x) * (-m) / (2 + m). For large |x| this is 1 to the last bit with no exp(2x)
(math.exp(2x) raises OverflowError past x = 354.9); near 0, expm1 gives e^-2|x| - 1
without the cancellation of computing e^-2|x| and subtracting 1 (so tanh(1e-12) is 1e-12
to full precision; the formula as written gives 9.999778782788784e-13), and t(0) = 0
exactly. The derivative is the
exact 1 - t^2, computed as (1 - |t|)(1 + |t|) with 1 - |t| = 2e / (1 + e), e = e^-2|x|,
from e = exp(-2|x|) directly: in saturation it stays the true tiny number (about 7.7e-22
at x = 25) instead of 1 - 1.0^2 = 0, down to where e^-2|x| underflows (|x| > 372), and it
is never negative.
"""
import math

ZOO = {"systems": ["scalar_graph"], "style": "lecture tanh formula via expm1, stable both ways; ops through _unary/_binary helpers"}


def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _tanh_and_derivative(x):
    """tanh(x) = (e^2x - 1)/(e^2x + 1) and 1 - tanh(x)^2, for any finite x."""
    a = abs(x)
    m = math.expm1(-2.0 * a)          # e^-2a - 1, accurate near a = 0
    t = -m / (2.0 + m)                # = (1 - e^-2a)/(1 + e^-2a) = tanh(a)
    e = math.exp(-2.0 * a)            # e^-2a itself (m + 1 would round to 0 past a = 18.7)
    one_minus_t = 2.0 * e / (1.0 + e)
    dt = one_minus_t * (1.0 + t)      # (1 - t)(1 + t) = 1 - t^2
    return math.copysign(t, x), dt


class Value:

    def __init__(self, data, _inputs=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._inputs = tuple(_inputs)     # (operand, d self / d operand) pairs
        self._op = _op

    def __repr__(self):
        return "Value(data=%r, grad=%r)" % (self.data, self.grad)

    @staticmethod
    def _lift(x):
        return x if isinstance(x, Value) else Value(x)

    def _unary(self, value, derivative, op):
        return Value(value, ((self, derivative),), op)

    def _binary(self, other, value, d_self, d_other, op):
        return Value(value, ((self, d_self), (other, d_other)), op)

    # ---- operations ----

    def __add__(self, other):
        other = Value._lift(other)
        return self._binary(other, self.data + other.data, 1.0, 1.0, "+")

    def __sub__(self, other):
        other = Value._lift(other)
        return self._binary(other, self.data - other.data, 1.0, -1.0, "-")

    def __mul__(self, other):
        other = Value._lift(other)
        return self._binary(other, self.data * other.data, other.data, self.data, "*")

    def __truediv__(self, other):
        other = Value._lift(other)
        a, b = self.data, other.data
        return self._binary(other, a / b, 1.0 / b, -a / (b * b), "/")

    def __radd__(self, other):
        return Value._lift(other) + self

    def __rsub__(self, other):
        return Value._lift(other) - self

    def __rmul__(self, other):
        return Value._lift(other) * self

    def __rtruediv__(self, other):
        return Value._lift(other) / self

    def __pow__(self, c):
        x = self.data
        return self._unary(x ** c, c * x ** (c - 1), "**")

    def __neg__(self):
        return self._unary(-self.data, -1.0, "neg")

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e, "exp")

    def log(self):
        return self._unary(math.log(self.data), 1.0 / self.data, "log")

    def sigmoid(self):
        s = _sigmoid(self.data)
        return self._unary(s, s * (1.0 - s), "sigmoid")

    def tanh(self):
        t, dt = _tanh_and_derivative(self.data)
        return self._unary(t, dt, "tanh")

    def relu(self):
        x = self.data
        return self._unary(x if x > 0 else 0.0, 1.0 if x > 0 else 0.0, "relu")

    # ---- reverse mode ----

    def backward(self):
        order, seen = [], set()

        def visit(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            for operand, _ in node._inputs:
                visit(operand)
            order.append(node)

        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            for operand, local in node._inputs:
                operand.grad += local * node.grad
