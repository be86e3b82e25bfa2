"""Conformance: the implementation under test (``--impl``, else the reference through the
same plug-in path) against the posts' worked examples, every oracle and the protocol's
properties. Each test is marked with its system and its check; ``conftest.py`` turns
the outcomes into a verdict per system (pass / fail / not provided).

Checks (``protocol.CHECKS``); a test may carry several (every answer is checked for shapes,
dtypes and finiteness), and a failure counts against the check it broke:

* worked examples    every fixture number the protocol can reach, at the printed precision
* oracles            loss and gradient against torch64, jax64, complex step, Richardson, central
* extreme inputs     the same in the saturated and extreme-logit regimes: finite, and right
* loss consistency   the reported loss's own directional derivative (central differences of
                     the implementation's loss) equals the gradient along the direction
* shapes and dtypes  every gradient has its parameter's shape, float64, finite numbers
* inputs unmodified  the caller's arrays are as they were after the call
* determinism        the same call again (after another) gives the same answer
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, given, note, settings, strategies as st

import oracles
from backprop_harness import localise, systems, worked_examples
from backprop_harness.compare import compare, gradient_report
from backprop_harness.diagnosis import fixed
from backprop_harness.plugin import Answer, ConformanceFailure, Evidence, NotApplicable, NotProvided
from backprop_harness.protocol import FUNCTION_SYSTEM
from backprop_harness.strategies import (
    EXTREME_LEAVES,
    FALLBACKS,
    SIGNED,
    directions,
    extreme_graph_cases,
    graph_cases,
    manual_cases,
    mlp_cases,
    softmax_cases,
)
from backprop_harness.systems.softmax import l2_coefficient
from fixtures import describe
from oracles import numeric
from oracles.cases import GraphCase, MLPCase, Node, evaluate
from oracles.finite_differences import directional, ravel_all
from oracles.rounding import magnitude
from oracles.tolerance import tolerance

# The "conformance" profile (conftest.py): the run's profile without the "explain" phase,
# and, when the built-in reference is under test, a fifth of its examples.
conformance_settings = settings.get_profile("conformance")


# the protocol functions that answer gradient questions, and the regimes each is checked in
FUNCTIONS = ("Value", "gradients", "mlp_gradients", "NeuralNetwork", "softmax_gradients")
EXTREME = {"Value": ("extreme",), "gradients": ("saturated",), "mlp_gradients": ("saturated",),
           "softmax_gradients": ("saturated", "extreme_logits")}


def strategy(impl, fn: str, regime: str = "conditioned"):
    """The cases ``fn`` is asked, under the implementation's declared conventions."""
    if fn == "Value" and regime == "extreme":
        ops = tuple(impl.value_ops()["ops"])
        if not set(ops) & set(EXTREME_LEAVES):
            raise NotApplicable(f"not applicable: Value has none of {sorted(EXTREME_LEAVES)}, the operations "
                                "with extreme inputs")
        return extreme_graph_cases(ops=ops)
    if fn == "Value":
        ops = tuple(impl.value_ops()["ops"])
        if not set(ops) & set(FALLBACKS):
            raise ConformanceFailure(f"Value: cannot build graphs from its operations {list(ops)}: every graph "
                                     f"needs one valid on any value, one of {list(FALLBACKS)}")
        return graph_cases(ops=ops)
    if fn == "gradients":
        return manual_cases(regime)
    if fn == "NeuralNetwork":
        return mlp_cases(regime, activations="sigmoid", loss="sse", layout="row", biases=False,
                         min_depth=2, max_depth=2)
    if fn == "mlp_gradients":
        conv = impl.conventions()["mlp"]
        return mlp_cases(regime, activations=conv["activation"], output_activation=conv["output_activation"],
                         loss=conv["loss"], layout=conv["layout"], biases=conv["bias"] != "none",
                         max_batch=1 if conv["batch"] == "one" else 8)
    if fn == "softmax_gradients":
        conv = impl.conventions()["softmax"]
        return softmax_cases(regime, reduction=conv["reduction"], hidden=conv["hidden"], l2=l2_coefficient(conv))
    raise ValueError(f"no strategy for {fn!r}")


def _params(checks, pairs):
    return [pytest.param(fn, regime, id=f"{fn}-{regime}",
                         marks=[pytest.mark.system(FUNCTION_SYSTEM[fn])] + [pytest.mark.check(c) for c in checks])
            for fn, regime in pairs]


def _fns(*checks):
    return [pytest.param(fn, id=fn, marks=[pytest.mark.system(FUNCTION_SYSTEM[fn])]
                         + [pytest.mark.check(c) for c in checks]) for fn in FUNCTIONS]


def _draw_case(impl, fn, data, regime="conditioned"):
    impl.require(fn)
    case = data.draw(strategy(impl, fn, regime), label="case")
    return case


def _evidence(fn, case, answer, **kw) -> Evidence:
    return Evidence(fn, case, answer.gradient.grads, answer.gradient.loss, **kw)


def _fail(report: str | None, fn: str, check: str, evidence: Evidence):
    __tracebackhide__ = True
    if report:
        raise ConformanceFailure(f"{fn}: {report}", check=check, evidence=evidence, report=report)


# --- worked examples -----------------------------------------------------------------------

QUESTIONS = worked_examples.questions()


@pytest.mark.parametrize("question", [
    pytest.param(q, id=f"{q.record.id}-{q.fn}", marks=[pytest.mark.system(q.system),
                                                       pytest.mark.check("worked examples"),
                                                       pytest.mark.check("shapes and dtypes")])
    for q in QUESTIONS])
def test_worked_example(impl, question):
    """The implementation reproduces the post's number at the printed precision (for an
    erratum, the corrected value), from the post's own inputs."""
    fn = question.fn
    impl.require(fn)
    system = systems.for_case(question.case)
    why = system.not_applicable(question.case, impl.conventions()[system.name])
    if why:
        raise NotApplicable(f"not applicable: {why}")
    if question.ops:
        missing = sorted(set(question.ops) - set(impl.value_ops()["ops"]))
        if missing:
            raise NotProvided(f"not provided: Value operations {missing} that this example needs")
    try:
        if fn == "forward":
            answer = impl.forward_answer(question.case)
        elif fn == "mlp_gradients":
            answer = _mlp_worked_answer(impl, question.case)
        else:
            answer = impl.answer(question.case, fn)
    except ConformanceFailure as exc:         # a malformed answer: its reproducer asks the same example
        if exc.evidence is not None:
            exc.evidence.origin = f"the {question.origin}"
        raise
    try:
        value = worked_examples.read(question, answer)
    except worked_examples.NotReadable as exc:
        raise NotProvided(f"not provided: {exc}") from None
    ok, bad = worked_examples.agrees(question, value)
    if not ok:
        what = "the corrected value (the post misprints it)" if question.record.is_erratum else "the printed value"
        raise ConformanceFailure(f"{fn}: {question.origin} ({question.output}): IMPL does not reproduce {what}: "
                                 f"{describe(bad, computed='IMPL')}", check="worked examples",
                                 evidence=_evidence(fn, *answer.extra.get("asked", (question.case, answer)),
                                                    origin=f"the {question.origin}")
                                 if answer.gradient.grads else None)


def _mlp_worked_answer(impl, case):
    """003's numbers are in the row layout; an implementation declaring the column layout
    gets the same network transposed."""
    conv = impl.conventions()["mlp"]
    if conv["layout"] == "row":
        return impl.answer(case, "mlp_gradients")
    column = MLPCase(case.X.T, case.T.T, tuple(W.T for W in case.Ws), case.bs, case.activations, case.loss, "column")
    asked = impl.answer(column, "mlp_gradients")
    grads = {k: v.T if k.startswith("W") else v for k, v in asked.gradient.grads.items()}
    return Answer(oracles.Gradient(asked.gradient.loss, grads, asked.gradient.method), asked.modified,
                  {"asked": (column, asked)})


# --- agreement with every oracle ------------------------------------------------------------

def _agree_with_oracles(impl, fn, case, check, names):
    __tracebackhide__ = True
    try:
        answer = impl.answer(case, fn)
    except ConformanceFailure as exc:
        if check == "extreme inputs" and fn == "Value":
            exc.add_note(f"asked: {_expression(case)}")
        raise
    for oracle in names:
        expected = oracles.gradient(case, oracle)
        _fail(gradient_report(case, answer.gradient, expected, check_loss=answer.gradient.loss is not None), fn,
              check, _evidence(fn, case, answer))
    if fn == "Value" and check == "oracles":
        _note_accuracy(impl, case, answer)


# A forward value this far from the exact one, relative to itself, while the answer passes
# (its error is within the policy's rounding of the terms that compute it, as the textbook
# tanh's is near 0), is worth telling: the report's accuracy note, never a failure.
ACCURACY_NOTE = 1e-12


def _note_accuracy(impl, case, answer):
    """Keep, on the implementation, the forward value with the worst relative error so far."""
    data = answer.extra.get("data") or []
    exact = evaluate(list(case.leaves), case.nodes, numeric.UNARY)
    n = case.leaves.size
    for i, node in enumerate(case.nodes):
        try:
            got, want = float(np.asarray(data[n + i]).reshape(())), float(exact[n + i])
        except (IndexError, TypeError, ValueError):
            return
        if abs(want) < np.finfo(float).tiny or not np.isfinite(got):    # below the normal range: no relative digits
            continue
        rel = abs(got - want) / abs(want)
        worst = impl.accuracy.get(node.op)
        if rel > ACCURACY_NOTE and (worst is None or rel > worst["relative_error"]):
            a = float(exact[node.a]) if isinstance(node.a, int) else node.a
            impl.accuracy[node.op] = {"relative_error": rel, "input": a, "received": got, "exact": want}


def _expression(case) -> str:
    """A small graph as the expression it computes, its leaves' values written out."""
    values = [f"x{i}" for i in range(case.leaves.size)]
    for node in case.nodes:
        a = values[node.a] if isinstance(node.a, int) else repr(node.a)
        if node.b is None:
            values.append(f"{node.op}({a})" if node.op != "neg" else f"-{a}")
        else:
            b = repr(node.b) if node.op == "pow" or not isinstance(node.b, int) else values[node.b]
            values.append(f"({a} {dict(add='+', sub='-', mul='*', div='/', pow='**')[node.op]} {b})")
    return values[-1] + " at " + ", ".join(f"x{i} = {float(v)!r}" for i, v in enumerate(case.leaves))


@pytest.mark.parametrize("fn, regime", _params(("oracles", "shapes and dtypes"),
                                               [(fn, "conditioned") for fn in FUNCTIONS]))
@conformance_settings
@given(data=st.data())
def test_agrees_with_every_oracle(impl, conformance_oracles, fn, regime, data):
    _agree_with_oracles(impl, fn, _draw_case(impl, fn, data, regime), "oracles", conformance_oracles)


@pytest.mark.parametrize("fn, regime", _params(("extreme inputs", "shapes and dtypes"),
                                               [(fn, r) for fn, rs in EXTREME.items() for r in rs]))
@conformance_settings
@given(data=st.data())
def test_extreme_inputs_stay_finite_and_agree(impl, conformance_oracles, fn, regime, data):
    names = conformance_oracles
    if fn == "Value":        # differences step across e^709 or below log's 1e-140: only the exact oracles
        names = tuple(o for o in names if o in oracles.EXACT) or ("complex_step",)
    _agree_with_oracles(impl, fn, _draw_case(impl, fn, data, regime), "extreme inputs", names)


@pytest.mark.system("scalar_graph")
@pytest.mark.check("oracles")
@pytest.mark.check("shapes and dtypes")
def test_every_operation_alone_agrees_with_every_oracle(impl, conformance_oracles):
    """Each operation of the Value class alone, at a few points (a constant on either side of
    the binary ones, so the reflected operators too), then as the inner node of a product:
    the same questions under every seed, so that a mistake in one operation (or in one
    reflected operator) is caught whatever graphs the random examples draw."""
    impl.require("Value")
    ops = impl.value_ops()["ops"]
    asked = [(label, case) for op in ops for label, case, _ in
             localise.probes(op) + (localise.inner_probes(op) if "mul" in ops else [])
             + (localise.reuse_probes(op) if "add" in ops else [])]
    if "mul" in ops:
        asked.append(localise.dead_branch_probe())
    for label, case in asked:
        for _ in range(3 if "x0" in label and ") + x0" in label else 1):     # an order that varies: thrice
            answer = impl.answer(case, "Value")
            for oracle in conformance_oracles:
                report = gradient_report(case, answer.gradient, oracles.gradient(case, oracle))
                if report:
                    raise ConformanceFailure(f"Value: {label}: {report}", check="oracles", report=report,
                                             evidence=_evidence("Value", case, answer, origin=f"the probe {label}"))


@pytest.mark.system("scalar_graph")
@pytest.mark.check("extreme inputs")
@pytest.mark.check("shapes and dtypes")
def test_every_operation_at_its_extremes(impl):
    """Each operation with extreme inputs (``EXTREME_LEAVES``) at both ends of its interval and,
    for sigmoid and tanh, on both sides of 0: every one asked under every seed, and each
    failing one named (the random examples stop at the first)."""
    impl.require("Value")
    ops = impl.value_ops()["ops"]
    chosen = [op for op in EXTREME_LEAVES if op in ops]
    if not chosen:
        raise NotApplicable(f"not applicable: Value has none of {sorted(EXTREME_LEAVES)}")
    failures = []
    for op in chosen:
        lo, hi = EXTREME_LEAVES[op]
        for x in [lo, hi] + ([-lo, -hi] if op in SIGNED else []):
            case = GraphCase([x, 0.75], (Node(op, 0), Node("mul", 2, 1))) if "mul" in ops \
                else GraphCase([x], (Node(op, 0),))
            try:
                answer = impl.answer(case, "Value")
            except ConformanceFailure as exc:
                failures.append((f"{_expression(case)}: {str(exc).splitlines()[0]}", exc.evidence, case))
                break
            report = gradient_report(case, answer.gradient, oracles.gradient(case, "complex_step"))
            if report:
                failures.append((f"{_expression(case)}: {report}", _evidence("Value", case, answer), case))
                break
    if failures:
        raise ConformanceFailure("Value: wrong or not finite at extreme inputs, operation by operation:\n"
                                 + "\n".join(f"  {text}" for text, _, _ in failures), check="extreme inputs",
                                 evidence=failures[0][1])


# --- properties ------------------------------------------------------------------------------

@pytest.mark.parametrize("fn", _fns("loss consistency", "shapes and dtypes"))
@conformance_settings
@given(data=st.data())
def test_loss_is_consistent_with_gradients(impl, fn, data):
    """d/de of the implementation's own loss at params + e v (central differences of the
    losses it reports) equals its gradient . v: the gradient is the gradient of that loss."""
    case = _draw_case(impl, fn, data)
    answer = impl.answer(case, fn)
    params = case.params()
    names = list(params)
    v = data.draw(directions(params), label="direction")
    shapes = [np.shape(params[k]) for k in names]
    x, u = ravel_all(params[k] for k in names), ravel_all(v[k] for k in names)
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def losses(points):
        sets = [{k: part.reshape(s) for k, part, s in zip(names, np.split(p, splits), shapes)} for p in points]
        return impl.losses(case, sets, fn)

    est = directional(losses, x, u, method="central", batched=True)
    got = sum(float(np.sum(np.asarray(answer.gradient.grads[k]) * v[k])) for k in names)
    _, mags = magnitude(case)
    scale = sum(float(np.sum(np.asarray(mags[k]) * np.abs(v[k]))) for k in names)
    note(f"gradient . v = {got!r}; d loss / de by central differences = {est.gradient[0]!r}")
    report = compare("dL/dv", got, est.gradient[0], tolerance("central"), "IMPL GRADIENT . v",
                     "D(IMPL LOSS)", scale=scale, noise=est.noise[0])
    if report:
        raise ConformanceFailure(f"{fn}: the gradient is not the gradient of the reported loss "
                                 f"(along a random direction v)\n{report}", check="loss consistency",
                                 evidence=_evidence(fn, case, answer), report=report)


@pytest.mark.parametrize("fn", _fns("determinism", "inputs unmodified"))
@conformance_settings
@given(data=st.data())
def test_same_call_twice_gives_the_same_answer_and_leaves_inputs_alone(impl, fn, data):
    """Call A, then B (A with other parameters, never equal to A's), then A again, all in
    the run's worker after every earlier call: no call changes the arrays it was given,
    and the two answers to A agree (under the exact rule: a legitimate implementation
    may reorder its sums between calls). Gradient buffers not zeroed, an in-place
    update of the weights, a cache keyed on the wrong thing: each changes the second A."""
    _repeat(impl, fn, data, fresh=False)


# The first call of a process is special to one mistake: a cache filled by the first
# call and never refreshed gives that answer to every later call, so A, B, A in one
# process agree; only an answer from a process with no earlier call shows it. A new
# process imports numpy and the implementation again, so a few examples, and no
# shrinking: each shrink step would start a process, and an answer that changes from call
# to call (a walk over a set) would have Hypothesis try a hundred of them. The property
# above shrinks what it catches in one process.
FRESH_EXAMPLES = 3


@pytest.mark.parametrize("fn", _fns("determinism", "inputs unmodified"))
@pytest.mark.fresh_processes(FRESH_EXAMPLES)
@settings(conformance_settings, max_examples=FRESH_EXAMPLES,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(data=st.data())
def test_a_new_process_gives_the_same_answer_as_a_used_one(impl, fn, data):
    """Call A in a new process (no state from any earlier call), then B and A in the run's
    worker, after every earlier call: the two answers to A agree, no input changes."""
    _repeat(impl, fn, data, fresh=True)


def _repeat(impl, fn, data, fresh: bool):
    first = _draw_case(impl, fn, data)
    if fn == "Value":       # a graph's other parameters may leave its operations' domains
        other = data.draw(strategy(impl, fn), label="other case")
    else:
        other = first.with_params({k: 0.25 - 0.5 * np.asarray(v) for k, v in first.params().items()})
    answers = [impl.fresh_answer(first, fn) if fresh else impl.answer(first, fn),
               impl.answer(other, fn), impl.answer(first, fn)]
    modified = sorted({m for a in answers for m in a.modified})
    if modified:
        raise ConformanceFailure(f"{fn} modified its inputs: {', '.join(modified)} changed during the call "
                                 "(the caller's arrays must be left as they were: copy before changing)",
                                 check="inputs unmodified",
                                 evidence=_evidence(fn, first, answers[0], diagnosis=fixed("inputs_modified")))
    a1, a3 = answers[0].gradient, answers[2].gradient
    where = "in a new process" if fresh else "the first time"
    report = gradient_report(first, oracles.Gradient(a3.loss, a3.grads, "impl (again)"),
                             oracles.Gradient(a1.loss, a1.grads, f"impl ({where})"), check_loss=a1.loss is not None)
    if report:
        raise ConformanceFailure(f"{fn}: the same call gave a different answer after other calls than {where} "
                                 f"(state kept from an earlier call?)\n{report}", check="determinism", report=report,
                                 evidence=_evidence(fn, first, answers[2], before=(other,), first=a1.grads))
