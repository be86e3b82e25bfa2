"""Correct: a Value that uses its creation order as the topological order; sigmoid and tanh finite at any input.

Style: 003's gradient tape without a global tape. Every Value gets a serial number from
a counter when it is created; an operation's result is always created after its
operands, so sorting the nodes reachable from the output by decreasing serial number
visits every node after all the nodes that use it. ``backward()`` collects the reachable
nodes with an explicit stack and walks them in that order; each node stores a
``_grad_fn`` that returns the local derivatives of its operands, computed when asked.

Extremes: ``sigmoid`` never calls exp on a positive number: with e = exp(-|x|) (in
(0, 1], 0 once |x| > 745), sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0,
so sigmoid(-1000) is 0.0 (the naive ``1 / (1 + math.exp(-x))`` raises OverflowError for
x < -709.78) and sigmoid(1000) is 1.0. Its derivative is e / (1 + e)^2, the same
s(1 - s) written from e, so it stays the true small number in saturation (4.5e-5 at
x = -10, 1.9e-22 at x = -50) rather than 1 - s rounded. ``tanh`` likewise uses
e = exp(-2|x|): tanh(x) = sign(x) (1 - e)/(1 + e) for |x| >= 0.5 (finite for |x| > 355,
where exp(2x) overflows) and math.tanh below (no cancellation near 0); its derivative
1 - t^2 is 4e / (1 + e)^2.
"""
import itertools
import math

ZOO = {"systems": ["scalar_graph"], "style": "creation counter as the topological order; saturation-exact sigmoid/tanh derivatives"}

_serial = itertools.count()


def _sigmoid_and_derivative(x):
    e = math.exp(-abs(x))
    s = 1.0 / (1.0 + e) if x >= 0 else e / (1.0 + e)
    return s, e / ((1.0 + e) * (1.0 + e))


def _tanh_and_derivative(x):
    e = math.exp(-2.0 * abs(x))
    if abs(x) >= 0.5:
        t = math.copysign((1.0 - e) / (1.0 + e), x)
    else:
        t = math.tanh(x)
    return t, 4.0 * e / ((1.0 + e) * (1.0 + e))


class Value:

    def __init__(self, data, operands=(), grad_fn=None):
        self.data = float(data)
        self.grad = 0.0
        self.serial = next(_serial)
        self.operands = tuple(operands)
        self._grad_fn = grad_fn            # () -> local derivatives, one per operand

    def __repr__(self):
        return f"Value({self.data!r}, grad={self.grad!r})"

    @staticmethod
    def _v(x):
        return x if isinstance(x, Value) else Value(x)

    def __add__(self, other):
        other = Value._v(other)
        return Value(self.data + other.data, (self, other), lambda: (1.0, 1.0))

    def __sub__(self, other):
        other = Value._v(other)
        return Value(self.data - other.data, (self, other), lambda: (1.0, -1.0))

    def __mul__(self, other):
        other = Value._v(other)
        return Value(self.data * other.data, (self, other), lambda: (other.data, self.data))

    def __truediv__(self, other):
        other = Value._v(other)
        return Value(self.data / other.data, (self, other),
                     lambda: (1.0 / other.data, -self.data / (other.data * other.data)))

    def __radd__(self, other):
        return Value._v(other) + self

    def __rsub__(self, other):
        return Value._v(other) - self

    def __rmul__(self, other):
        return Value._v(other) * self

    def __rtruediv__(self, other):
        return Value._v(other) / self

    def __pow__(self, c):
        return Value(self.data ** c, (self,), lambda: (c * self.data ** (c - 1),))

    def __neg__(self):
        return Value(-self.data, (self,), lambda: (-1.0,))

    def exp(self):
        e = math.exp(self.data)
        return Value(e, (self,), lambda: (e,))

    def log(self):
        return Value(math.log(self.data), (self,), lambda: (1.0 / self.data,))

    def sigmoid(self):
        s, ds = _sigmoid_and_derivative(self.data)
        return Value(s, (self,), lambda: (ds,))

    def tanh(self):
        t, dt = _tanh_and_derivative(self.data)
        return Value(t, (self,), lambda: (dt,))

    def relu(self):
        on = self.data > 0
        return Value(self.data if on else 0.0, (self,), lambda: (1.0 if on else 0.0,))

    def backward(self):
        reachable = {id(self): self}
        stack = [self]
        while stack:
            node = stack.pop()
            for op in node.operands:
                if id(op) not in reachable:
                    reachable[id(op)] = op
                    stack.append(op)
        self.grad = 1.0
        for node in sorted(reachable.values(), key=lambda v: v.serial, reverse=True):
            if node._grad_fn is None:
                continue
            for op, local in zip(node.operands, node._grad_fn()):
                op.grad += local * node.grad
