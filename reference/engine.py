"""Scalar computational graph: a micrograd-style ``Value`` with reverse and forward mode.

Every operation stores its children and the *local* partial derivatives
``d out / d child`` as plain numbers. That one record serves both modes
(002, "every node ... can compute two things — the output of the node and the
local gradient of the node"):

* reverse mode (``Value.backward``) walks the graph once, output to inputs, and
  gives ``d out / d node`` for every node ("gradients add at branches");
* forward mode (``forward_tangents``) walks it once, inputs to output, and gives
  ``d node / d input`` for one input direction.

So for a function of n inputs, reverse mode needs one pass and forward mode n
(002: "a thrice speedup" for f = (a+b)(b+c)); ``gradient_reverse`` and
``gradient_forward`` return the number of passes they made.

Unlike micrograd the topological sort is iterative (a 10,000-node chain works)
and ``backward()`` has plain accumulation semantics, see its docstring.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

__all__ = ["Value", "topological_order", "forward_tangents", "gradient_reverse",
           "gradient_forward", "gradient_magnitude", "GradientResult"]


def _as_value(x) -> "Value":
    if isinstance(x, Value):
        return x
    if isinstance(x, Real) and not isinstance(x, bool):
        return Value(x)
    raise TypeError(f"cannot combine Value with {type(x).__name__} {x!r}; expected a Value, int or float")


class Value:
    """A scalar node: ``data`` (forward value), ``grad`` (d out / d self after backward)."""

    __slots__ = ("data", "grad", "_children", "_local", "_op", "label")

    def __init__(self, data, _children=(), _local=(), _op="", label=""):
        if isinstance(data, bool) or not isinstance(data, Real):
            raise TypeError(f"Value data must be a real number, got {type(data).__name__} {data!r}")
        self.data = float(data)
        self.grad = 0.0
        self._children = tuple(_children)
        self._local = tuple(float(d) for d in _local)
        self._op = _op
        self.label = label

    def __repr__(self):
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data!r}, grad={self.grad!r})"

    # --- arithmetic -------------------------------------------------------
    def __add__(self, other):
        """z = x + y;  dz/dx = 1, dz/dy = 1."""
        other = _as_value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        """z = x * y;  dz/dx = y, dz/dy = x."""
        other = _as_value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, k):
        """z = x ** k for a constant int or float k;  dz/dx = k x^(k-1)."""
        if isinstance(k, Value) or isinstance(k, bool) or not isinstance(k, Real):
            raise TypeError(f"Value ** k needs a constant int or float exponent, got {type(k).__name__}; "
                            "write (k * x.log()).exp() for a variable exponent")
        k = float(k) if not float(k).is_integer() else int(k)
        if self.data < 0 and isinstance(k, float):
            raise ValueError(f"Value ** {k}: a negative base ({self.data}) has no real non-integer power")
        if self.data == 0 and k < 1 and k != 0:
            raise ZeroDivisionError(f"Value ** {k} at 0: the power or its derivative is infinite")
        derivative = 0.0 if k == 0 else k * self.data ** (k - 1)   # x**0 = 1 is flat, also at x = 0
        return Value(self.data ** k, (self,), (derivative,), f"**{k}")

    def __neg__(self):
        """z = -x;  dz/dx = -1."""
        return Value(-self.data, (self,), (-1.0,), "neg")

    def __sub__(self, other):
        """z = x - y;  dz/dx = 1, dz/dy = -1."""
        other = _as_value(other)
        return Value(self.data - other.data, (self, other), (1.0, -1.0), "-")

    def __truediv__(self, other):
        """z = x / y;  dz/dx = 1/y, dz/dy = -x/y^2."""
        other = _as_value(other)
        if other.data == 0:
            raise ZeroDivisionError("Value division by a Value whose data is 0")
        return Value(self.data / other.data, (self, other),
                     (1.0 / other.data, -self.data / other.data ** 2), "/")

    def __radd__(self, other):
        return _as_value(other) + self

    def __rmul__(self, other):
        return _as_value(other) * self

    def __rsub__(self, other):
        return _as_value(other) - self

    def __rtruediv__(self, other):
        return _as_value(other) / self

    # --- elementary functions ---------------------------------------------
    def exp(self):
        """z = e^x;  dz/dx = e^x."""
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"Value.exp overflows float64 at x = {self.data}") from None
        return Value(e, (self,), (e,), "exp")

    def log(self):
        """z = ln x for x > 0;  dz/dx = 1/x."""
        if self.data <= 0:
            raise ValueError(f"Value.log needs a positive argument, got {self.data}")
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def sigmoid(self):
        """s = 1/(1 + e^-x);  ds/dx = s(1 - s)  (003's "nice derivative of sigmoid").

        Written as in 003 so that 003's printed digits are reproduced exactly;
        for x below about -709, e^-x overflows and s is 0, its float64 limit.
        """
        try:
            s = 1.0 / (1.0 + math.exp(-self.data))
        except OverflowError:
            s = 0.0
        return Value(s, (self,), (s * (1 - s),), "sigmoid")

    def tanh(self):
        """t = tanh x;  dt/dx = 1 - t^2."""
        t = math.tanh(self.data)
        return Value(t, (self,), (1 - t * t,), "tanh")

    def relu(self):
        """r = max(0, x);  dr/dx = 1 if x > 0 else 0 (the subgradient 0 at the kink, as micrograd)."""
        return Value(max(0.0, self.data), (self,), (1.0 if self.data > 0 else 0.0,), "relu")

    # --- reverse mode -------------------------------------------------------
    def backward(self):
        """Reverse mode: add d self / d node to ``node.grad`` for every node of the graph.

        One pass over the nodes in reverse topological order; a node reached
        along several paths receives the sum over the paths (002: "gradients
        add at branches").

        Semantics of a second call: gradients *accumulate*, as ``.grad`` does
        for leaves in PyTorch. Each call adds exactly one more copy of
        d self / d node to every node (micrograd instead resets only the
        output's grad, so a second call there gives 3x on a chain of length 2).
        Call ``zero_grad()`` to reset the whole graph to 0 first.
        """
        order = topological_order(self)
        upstream = {id(self): 1.0}
        for node in reversed(order):
            g = upstream.get(id(node), 0.0)
            for child, local in zip(node._children, node._local):
                upstream[id(child)] = upstream.get(id(child), 0.0) + local * g
        for node in order:
            node.grad += upstream.get(id(node), 0.0)

    def zero_grad(self):
        """Set ``grad`` to 0 on this node and every node it depends on."""
        for node in topological_order(self):
            node.grad = 0.0


def topological_order(root: Value) -> list[Value]:
    """Nodes reachable from ``root``, each after all of its children (iterative DFS).

    An explicit stack replaces micrograd's recursion, so depth is bounded by
    memory, not by ``sys.getrecursionlimit()``.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for child in node._children:
            if id(child) not in visited:
                stack.append((child, False))
    return order


def forward_tangents(root: Value, seed: dict[int, float]) -> dict[int, float]:
    """Forward mode: one pass from the inputs to ``root`` propagating tangents.

    ``seed`` maps ``id(input)`` to its tangent (dx/dt); every other leaf has
    tangent 0, and a seeded inner node is treated as an input. Returns ``id(node) -> d node / dt`` for all nodes, using
    d out/dt = sum_i (d out / d child_i) (d child_i / dt).
    """
    tangent = {}
    for node in topological_order(root):
        if id(node) in seed or not node._children:
            tangent[id(node)] = seed.get(id(node), 0.0)
        else:
            tangent[id(node)] = sum(l * tangent[id(c)] for c, l in zip(node._children, node._local))
    return tangent


@dataclass(frozen=True)
class GradientResult:
    """Gradients of one output with respect to chosen inputs, and the graph passes it took."""
    value: float
    gradient: tuple[float, ...]
    passes: int


def gradient_reverse(output: Value, inputs) -> GradientResult:
    """d output / d inputs by reverse mode: one backward pass, whatever len(inputs)."""
    inputs = list(inputs)
    output.zero_grad()
    output.backward()
    return GradientResult(output.data, tuple(x.grad for x in inputs), passes=1)


def gradient_forward(output: Value, inputs) -> GradientResult:
    """d output / d inputs by forward mode: one tangent pass per input."""
    inputs = list(inputs)
    grads, passes = [], 0
    for x in inputs:
        grads.append(forward_tangents(output, {id(x): 1.0})[id(output)])
        passes += 1
    return GradientResult(output.data, tuple(grads), passes=passes)


def gradient_magnitude(output: Value, inputs) -> tuple[float, ...]:
    """Sum over all paths from each input to ``output`` of |product of local derivatives|.

    The chain rule writes d output / d x as a sum of path products; any order of
    evaluating it (reverse, forward, by hand) rounds each term and partial sum, so
    two routes can differ by about (path length) * eps * this magnitude, which can
    be far above eps * |gradient| when the paths cancel. It is the scale against
    which ``oracles.tolerance`` judges two routes on a general graph.
    """
    order = topological_order(output)
    upstream = {id(output): 1.0}
    for node in reversed(order):
        g = upstream.get(id(node), 0.0)
        for child, local in zip(node._children, node._local):
            upstream[id(child)] = upstream.get(id(child), 0.0) + abs(local) * g
    return tuple(upstream.get(id(x), 0.0) for x in inputs)
