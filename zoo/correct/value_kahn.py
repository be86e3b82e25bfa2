"""Correct: a Value whose backward walks the graph in Kahn's order (no recursion).

Style: each node stores its operation's name and its operands; the local
derivatives live in one method, ``_local_grads``, an explicit if/elif over the
operation names. ``backward()`` first counts, for every node reachable from the
output, how many operations use it (one count per use, so ``a * a`` counts a
twice), then processes a queue: a node enters the queue only when every node that
uses it has passed its gradient down, so its gradient is complete before it is
passed on (Kahn's algorithm, the topological order built iteratively instead of
micrograd's recursive depth-first search).
"""
import math
from collections import deque

ZOO = {"systems": ["scalar_graph"], "style": "Kahn's algorithm, iterative; local derivatives in one if/elif"}


class Value:

    def __init__(self, data, children=(), op=None, const=None):
        self.data = float(data)
        self.grad = 0.0
        self.children = tuple(children)   # the operands, in order (a value may appear twice)
        self.op = op
        self.const = const                 # the exponent of '**'

    def __repr__(self):
        return "Value(data=%r, grad=%r)" % (self.data, self.grad)

    # ---- forward ----

    def __add__(self, other):
        if not isinstance(other, Value):
            other = Value(other)
        return Value(self.data + other.data, (self, other), "add")

    def __radd__(self, other):
        return Value(other) + self

    def __sub__(self, other):
        if not isinstance(other, Value):
            other = Value(other)
        return Value(self.data - other.data, (self, other), "sub")

    def __rsub__(self, other):
        return Value(other) - self

    def __mul__(self, other):
        if not isinstance(other, Value):
            other = Value(other)
        return Value(self.data * other.data, (self, other), "mul")

    def __rmul__(self, other):
        return Value(other) * self

    def __truediv__(self, other):
        if not isinstance(other, Value):
            other = Value(other)
        return Value(self.data / other.data, (self, other), "div")

    def __rtruediv__(self, other):
        return Value(other) / self

    def __pow__(self, p):
        return Value(self.data ** p, (self,), "pow", const=float(p))

    def __neg__(self):
        return Value(-self.data, (self,), "neg")

    def exp(self):
        return Value(math.exp(self.data), (self,), "exp")

    def log(self):
        return Value(math.log(self.data), (self,), "log")

    def sigmoid(self):
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            s = math.exp(x) / (1.0 + math.exp(x))
        return Value(s, (self,), "sigmoid")

    def tanh(self):
        return Value(math.tanh(self.data), (self,), "tanh")

    def relu(self):
        return Value(self.data if self.data > 0 else 0.0, (self,), "relu")

    # ---- backward ----

    def _local_grads(self):
        """d self / d operand, one number per operand (in the order of self.children)."""
        op, out = self.op, self.data
        if op == "add":
            return (1.0, 1.0)
        if op == "sub":
            return (1.0, -1.0)
        if op == "mul":
            a, b = self.children
            return (b.data, a.data)
        if op == "div":
            a, b = self.children
            return (1.0 / b.data, -a.data / (b.data * b.data))
        x = self.children[0].data
        if op == "pow":
            return (self.const * x ** (self.const - 1),)
        if op == "neg":
            return (-1.0,)
        if op == "exp":
            return (out,)
        if op == "log":
            return (1.0 / x,)
        if op == "sigmoid":
            return (out * (1.0 - out),)
        if op == "tanh":
            return (1.0 - out * out,)
        if op == "relu":
            return (1.0 if x > 0 else 0.0,)
        raise ValueError("unknown operation %r" % op)

    def backward(self):
        # 1. every node reachable from the output, and how many uses of it there are
        uses = {id(self): 0}
        nodes = {id(self): self}
        todo = [self]
        while todo:
            node = todo.pop()
            for child in node.children:
                if id(child) not in nodes:
                    nodes[id(child)] = child
                    uses[id(child)] = 0
                    todo.append(child)
                uses[id(child)] += 1

        # 2. Kahn: a node is ready once all of its uses have sent their gradient
        self.grad = 1.0
        ready = deque([self])
        while ready:
            node = ready.popleft()
            if node.op is None:       # a leaf
                continue
            for child, local in zip(node.children, node._local_grads()):
                child.grad += local * node.grad
                uses[id(child)] -= 1
                if uses[id(child)] == 0:
                    ready.append(child)
