"""The scalar graph: each operation's local derivative, branches, deep graphs,
the semantics of repeated backward(), forward mode against reverse mode, the
gradient's magnitude, and the errors that name a bad operand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from backprop_harness.compare import assert_close
from backprop_harness.implementations import VALUE_OPS
from backprop_harness.strategies import graph_cases
from oracles.cases import evaluate
from oracles.finite_differences import central_difference
from oracles.rounding import magnitude
from oracles.tolerance import tolerance
from reference.engine import (
    Value,
    forward_tangents,
    gradient_forward,
    gradient_magnitude,
    gradient_reverse,
    topological_order,
)

pytestmark = pytest.mark.system("scalar_graph")

# (name, f(a, b) on Values or floats, domain for a, b) -- written once, run on Value and on floats.
BINARY = {
    "add": (lambda a, b: a + b, (-3, 3), (-3, 3)),
    "sub": (lambda a, b: a - b, (-3, 3), (-3, 3)),
    "mul": (lambda a, b: a * b, (-3, 3), (-3, 3)),
    "div": (lambda a, b: a / b, (-3, 3), (0.5, 3)),
    "radd": (lambda a, b: 2.5 + a * b, (-3, 3), (-3, 3)),
    "rsub": (lambda a, b: 2.5 - a * b, (-3, 3), (-3, 3)),
    "rmul": (lambda a, b: 2.5 * a + b, (-3, 3), (-3, 3)),
    "rdiv": (lambda a, b: 2.5 / a + b, (0.5, 3), (-3, 3)),
    "neg": (lambda a, b: -a * b, (-3, 3), (-3, 3)),
    "pow_int": (lambda a, b: a ** 3 + b ** 2, (-3, 3), (-3, 3)),
    "pow_float": (lambda a, b: a ** 1.5 * b ** -0.5, (0.5, 3), (0.5, 3)),
}
UNARY = {
    "exp": lambda v: v.exp() if isinstance(v, Value) else math.exp(v),
    "log": lambda v: v.log() if isinstance(v, Value) else math.log(v),
    "sigmoid": lambda v: v.sigmoid() if isinstance(v, Value) else 1 / (1 + math.exp(-v)),
    "tanh": lambda v: v.tanh() if isinstance(v, Value) else math.tanh(v),
    "relu": lambda v: v.relu() if isinstance(v, Value) else max(v, 0.0),
}


@pytest.mark.parametrize("name", BINARY)
@given(data=st.data())
def test_binary_operations_match_central_differences(name, data):
    f, (lo_a, hi_a), (lo_b, hi_b) = BINARY[name]
    a = data.draw(st.floats(lo_a, hi_a), label="a")
    b = data.draw(st.floats(lo_b, hi_b), label="b")
    va, vb = Value(a), Value(b)
    out = f(va, vb)
    out.backward()
    assert out.data == pytest.approx(f(a, b), rel=1e-15, abs=1e-300)
    fd = central_difference(lambda p: f(p[0], p[1]), [a, b])
    assert_close(f"d{name}/d(a, b)", [va.grad, vb.grad], fd.gradient, tolerance("central"),
                 "VALUE", "CENTRAL", noise=fd.noise)


@pytest.mark.parametrize("name", UNARY)
@given(x=st.floats(0.2, 4) | st.floats(-4, -0.2))
def test_unary_operations_match_central_differences(name, x):
    if name == "log":
        x = abs(x)
    g = UNARY[name]
    v = Value(x)
    out = g(v) * 1.5
    out.backward()
    fd = central_difference(lambda p: g(p[0]) * 1.5, [x])
    assert_close(f"d{name}/dx", [v.grad], fd.gradient, tolerance("central"),
                 "VALUE", "CENTRAL", noise=fd.noise)


def test_gradients_add_at_branches():
    b = Value(3.0)
    f = (b + 1) * (b + 2) + b * b              # df/db = (b+2) + (b+1) + 2b
    f.backward()
    assert b.grad == (3 + 2) + (3 + 1) + 2 * 3


def test_same_child_twice_in_one_operation():
    a = Value(-4.0)
    (a * a).backward()
    assert a.grad == 2 * -4.0
    b = Value(2.0)
    (b + b).backward()
    assert b.grad == 2.0


def test_ten_thousand_node_chain_has_no_recursion_limit():
    x = Value(0.5)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert len(topological_order(y)) > 10_000
    assert x.grad == pytest.approx(1.0001 ** 10_000, rel=1e-12)
    assert gradient_forward(y, [x]).gradient[0] == pytest.approx(x.grad, rel=1e-13)


def test_second_backward_accumulates_exactly_once_more_and_zero_grad_resets():
    a, b = Value(2.0), Value(-3.0)
    h = (a * b).tanh()
    out = h * a
    out.backward()
    first = {n: n.grad for n in topological_order(out)}
    out.backward()
    for node, g in first.items():
        assert node.grad == 2 * g
    out.zero_grad()
    assert all(n.grad == 0.0 for n in topological_order(out))
    out.backward()
    assert {n: n.grad for n in topological_order(out)} == first


@given(case=graph_cases())
def test_forward_mode_equals_reverse_mode(case):
    """The two modes of the one engine, on DAGs over every operation with reused sub-expressions."""
    inputs = [Value(float(x)) for x in case.leaves]
    out = evaluate(inputs, case.nodes, VALUE_OPS)[-1]
    rev = gradient_reverse(out, inputs)
    fwd = gradient_forward(out, inputs)
    assert rev.passes == 1 and fwd.passes == len(inputs)
    # Paths can cancel: the two modes are judged against the case's rounding magnitude.
    _, mags = magnitude(case)
    assert_close("d out/d inputs", rev.gradient, fwd.gradient, tolerance("exact", terms=case.summation_length),
                 "REVERSE", "FORWARD", scale=max(float(m) for m in mags.values()))


def test_forward_tangents_of_a_seeded_direction():
    a, b = Value(1.5), Value(-0.5)
    out = a * b + a.exp()
    t = forward_tangents(out, {id(a): 2.0, id(b): -1.0})
    assert t[id(out)] == pytest.approx(2.0 * (b.data + math.exp(1.5)) - 1.0 * a.data, rel=1e-15)


@pytest.mark.parametrize("make, error, match", [
    (lambda: Value(-1.0).log(), ValueError, "positive"),
    (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, "0"),
    (lambda: Value(-2.0) ** 0.5, ValueError, "negative base"),
    (lambda: Value(2.0) ** Value(2.0), TypeError, "constant int or float"),
    (lambda: Value("3"), TypeError, "real number"),
    (lambda: Value(1.0) + "x", TypeError, "cannot combine"),
    (lambda: Value(1000.0).exp(), OverflowError, "overflows"),
])
def test_bad_operations_raise_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_sigmoid_saturates_to_finite_values():
    v = Value(-1000.0)
    s = v.sigmoid()
    s.backward()
    assert s.data == 0.0 and v.grad == 0.0
    assert np.isfinite(Value(1000.0).sigmoid().data)


def test_gradient_magnitude_bounds_the_gradient():
    a, b = Value(2.0), Value(2.0)
    out = a * b - b * a                 # two paths that cancel exactly
    assert gradient_reverse(out, [a, b]).gradient == (0.0, 0.0)
    assert gradient_magnitude(out, [a, b]) == (4.0, 4.0)


def test_value_repr_shows_label_data_and_grad():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    v = Value(-1.5, label="w11")
    v.grad = 3.0
    assert repr(v) == "Value(w11: data=-1.5, grad=3.0)"


def test_value_division_by_zero_and_log_of_zero_say_so():
    with pytest.raises(ZeroDivisionError, match="^Value division by a Value whose data is 0$"):
        Value(1.0) / Value(0.0)
    with pytest.raises(ValueError, match=r"^Value.log needs a positive argument, got 0.0$"):
        Value(0.0).log()


def test_value_power_exponents_and_the_base_zero():
    for k, name in [(True, "bool"), ("2", "str"), (Value(2.0), "Value")]:
        with pytest.raises(TypeError, match=rf"^Value \*\* k needs a constant int or float exponent, got {name}; "
                                            r"write \(k \* x.log\(\)\).exp\(\) for a variable exponent$"):
            Value(2.0) ** k
    for k in (1, 1.5, 2):                       # at 0: finite power and derivative for k >= 1
        x = Value(0.0)
        y = x ** k
        y.backward()
        assert (y.data, x.grad) == (0.0, 1.0 if k == 1 else 0.0)
    for base in (0.0, 2.0, -3.0):              # x ** 0 = 1 is flat everywhere, at 0 too
        x = Value(base)
        y = x ** 0
        y.backward()
        assert (y.data, x.grad) == (1.0, 0.0)
    for k in (-1, 0.5):
        with pytest.raises(ZeroDivisionError, match=rf"^Value \*\* {k} at 0: the power or its derivative is infinite$"):
            Value(0.0) ** k
    x = Value(1.0)
    y = x ** 0.5                               # base 1 is no special case
    y.backward()
    assert (y.data, x.grad) == (1.0, 0.5)


def test_relu_subgradient_at_the_kink_is_zero():
    x = Value(0.0)
    r = x.relu()
    r.backward()
    assert (r.data, x.grad) == (0.0, 0.0)


def test_gradient_reverse_reports_the_output_value():
    x, y = Value(1.5), Value(-2.0)
    f = x * y + x
    r = gradient_reverse(f, [x, y])
    assert (r.value, r.gradient, r.passes) == (-1.5, (-1.0, 1.5), 1)


def test_value_type_errors_name_the_type():
    with pytest.raises(TypeError, match=r"^cannot combine Value with str 'a'; expected a Value, int or float$"):
        Value(1.0) + "a"
    with pytest.raises(TypeError, match=r"^Value data must be a real number, got str 'a'$"):
        Value("a")


def test_forward_mode_treats_a_seeded_inner_node_as_an_input():
    a, b, y = Value(1.0), Value(2.0), Value(4.0)
    x = a + b
    f = x * y
    tangents = forward_tangents(f, {id(x): 1.0})          # df/dx = y, whatever a and b do
    assert (tangents[id(f)], tangents[id(a)]) == (4.0, 0.0)
    r = gradient_forward(f, [a, y])
    assert (r.value, r.gradient, r.passes) == (12.0, (4.0, 3.0), 2)


def test_gradient_magnitude_sums_absolute_path_products():
    a, b, unused = Value(2.0), Value(-3.0), Value(5.0)
    f = a * b + a                      # paths to a: |b| * 1 and 1; to b: |a|
    assert gradient_magnitude(f, [a, b, unused]) == (4.0, 2.0, 0.0)   # not in the graph: 0
    g = a - a                          # the gradient cancels, the magnitude does not
    assert gradient_magnitude(g, [a]) == (2.0,)
