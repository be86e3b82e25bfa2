"""Buggy: the topological sort has no ``visited`` set: a shared node is listed once per path.

The student left micrograd's ``visited`` set out of ``build_topo`` ("the recursion stops
at the leaves anyway"). The order is still one where each node comes after its inputs,
but a node that several operations use appears once per path to it, and its
``_backward`` runs once per appearance: the first time with only part of its gradient
(the operations listed after it have not passed theirs yet), and again later, so its
inputs receive some contributions twice. Leaves have no backward function, so graphs
where only leaves are shared (002's f = (a + b)(b + c), ``x * x``) are right; a shared
intermediate value (003's hidden unit h1, used by both outputs) is not. Which
contributions are passed on twice depends on the order ``build_topo`` meets the paths,
and ``_prev`` is a set ordered by the nodes' hashes: the same graph can even give
different gradients from one run to the next. The local derivatives of every operation
are right.
"""
import math

ZOO = {'system': 'scalar_graph',
       'mistake': 'topological sort without a visited set (shared nodes back-propagated once per path)',
       'fails': ['oracles'],
       'diagnosis': None,
       'truth': {'wrong': [],
                 'layer': None,
                 'op': 'backward',
                 'operand': None,
                 'pattern': 'a shared intermediate node processed once per path (partial gradients '
                            'passed on, contributions counted twice)',
                 'looks_like': None}}


class Value:
    """stores a single scalar value and its gradient"""

    def __init__(self, data, _children=(), _op=''):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = set(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), '+')

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data - other.data, (self, other), '-')

        def _backward():
            self.grad += out.grad
            other.grad -= out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), '*')

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data / other.data, (self, other), '/')

        def _backward():
            self.grad += out.grad / other.data
            other.grad -= self.data / other.data ** 2 * out.grad
        out._backward = _backward
        return out

    def __pow__(self, k):
        assert isinstance(k, (int, float)), "only supporting int/float powers for now"
        out = Value(self.data ** k, (self,), f'**{k}')

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        out = Value(-self.data, (self,), 'neg')

        def _backward():
            self.grad -= out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), 'exp')

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        out = Value(math.log(self.data), (self,), 'log')

        def _backward():
            self.grad += (1 / self.data) * out.grad
        out._backward = _backward
        return out

    def sigmoid(self):
        x = self.data
        if x >= 0:
            s = 1 / (1 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1 + e)
        out = Value(s, (self,), 'sigmoid')

        def _backward():
            self.grad += out.data * (1 - out.data) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), 'tanh')

        def _backward():
            self.grad += (1 - t ** 2) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(0.0 if self.data < 0 else self.data, (self,), 'ReLU')

        def _backward():
            self.grad += (out.data > 0) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        # topological order all of the children in the graph
        topo = []

        def build_topo(v):
            for child in v._prev:
                build_topo(child)
            topo.append(v)
        build_topo(self)

        # go one variable at a time and apply the chain rule to get its gradient
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()

    def __radd__(self, other):  # other + self
        return Value(other) + self

    def __rsub__(self, other):  # other - self
        return Value(other) - self

    def __rmul__(self, other):  # other * self
        return Value(other) * self

    def __rtruediv__(self, other):  # other / self
        return Value(other) / self

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"
