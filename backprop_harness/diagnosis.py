"""Diagnosis: which classic mistake explains a wrong answer.

When an implementation's gradient disagrees, the harness recomputes the gradient
that each known mistake would give on the same case (``backprop_harness.mistakes``:
the reference with the mistake applied) and names the mistakes whose gradient
the implementation's answer matches. A cause is named only when its signature
matches within tolerance and differs from the right answer on that case;
otherwise the diagnosis is ``unknown``. The codes are stable (they appear in the
conformance JSON, docs/conformance-schema.md); the words may improve.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from backprop_harness import localise, mistakes
from backprop_harness.localise import Where
from backprop_harness.mistakes import batch_size
from oracles import Gradient
from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, SoftmaxCase, per_case
from oracles.rounding import exact_rule

__all__ = ["CODES", "MATCH_RTOL", "Diagnosis", "diagnose", "diagnose_repeat", "fixed", "probe_case", "separating_case",
           "of_failure"]

# code -> the mistake, in words (the failure message's "diagnosis:" line)
CODES = {
    "derivative_at_preactivation": "the activation's derivative is evaluated at the pre-activation: z(1 - z) "
                                   "instead of a(1 - a) with a = sigmoid(z) (1 - z^2 for tanh)",
    "double_sigmoid": "the sigmoid is applied twice in the derivative: sigmoid(a)(1 - sigmoid(a)) where "
                      "a = sigmoid(z) already is the output (tanh likewise)",
    "missing_output_derivative": "the output layer's activation derivative is missing from the error signal",
    "branch_overwritten": "a value used more than once gets its gradient overwritten (=) instead of "
                          "accumulated (+=)",
    "no_topological_order": "backward propagates a value's gradient before every contribution to it has "
                            "arrived (the graph is not walked in topological order)",
    "bias_not_summed": "the bias gradient is not summed over the batch (one row per instance)",
    "bias_averaged": "the bias gradient is averaged over the batch instead of summed",
    "softmax_wrong_axis": "softmax normalises over the batch (axis 0) instead of over each row's classes",
    "softmax_overflow": "softmax without subtracting each row's maximum: exp overflows at large logits",
    "softmax_extra_factor": "an extra P(1 - P) factor on the softmax / cross-entropy gradient "
                            "(dZ = (P - Y) P (1 - P) instead of P - Y)",
    "weight_not_transposed": "the error is propagated back through W instead of W^T",
    "wrong_layer_weight": "the error is propagated back through the wrong layer's weights "
                          "(W_l instead of W_{l+1})",
    "loss_gradient_normalisation": "the loss and the gradient are normalised differently (for example the "
                                   "loss is a batch mean and the gradient that of the sum)",
    "transposed": "a weight gradient is the transpose of the right one (delta^T A instead of A^T delta, "
                  "or a transpose added to make the shapes fit)",
    "sign_flipped": "the gradient has the wrong sign (the error taken as target - output, or a minus folded in)",
    "scaled_2": "the gradient is twice the right one",
    "scaled_half": "the gradient is half the right one (the factor 2 of the squared error is missing)",
    "scaled_batch": "the gradient is the batch size times the right one",
    "scaled_inverse_batch": "the gradient is the right one divided by the batch size (averaged where the loss sums)",
    "convention_mismatch": "the loss and the gradient are exactly right under another convention than "
                           "the one declared",
    "inconsistent_convention": "the gradient is of one convention and the loss of another",
    "wrong_local_derivative": "the local derivative of one operation is wrong (which, for which operand, and "
                              "how: below, from probe graphs of that operation alone)",
    "wrong_accumulation_or_order": "every operation is right alone, but not where a value is used more than once "
                                   "or in a longer graph",
    "wrong_backward_step": "the backward pass goes wrong at one layer (which, and the pattern of each wrong "
                           "tensor: below)",
    "loss_only": "the gradient is right; the reported loss is not",
    "float32": "computed in float32: right to about 7 digits, not to float64's 16",
    "inputs_modified": "the implementation modifies the arrays it is given",
    "stale_state": "state kept from an earlier call (a cached forward pass) changes a later answer",
    "order_varies": "the same call answers differently from one call to the next, no earlier call needed: an "
                    "order that varies (a walk over a set of objects)",
    "unknown": "no known mistake matches this answer",
    # what is not a wrong answer, named as what it is
    "load_error": "the implementation did not load (its own traceback is in the message)",
    "bad_conventions": "CONVENTIONS is not valid",
    "signature_mismatch": "a protocol function cannot be called as the protocol calls it",
    "crash": "the implementation raised, or its process died, during the call (its own frames are in the message)",
    "timeout": "the implementation did not answer within the time limit",
    "non_finite": "the answer holds NaN or infinity",
    "wrong_structure": "the answer is not of the protocol's structure, shape or type",
}


# -- matching ------------------------------------------------------------------------------------
#
# Tolerances of the diagnosis (not of the verdict, which the oracles' policy gives):
# an answer matches a mistake's when every tensor is within MATCH_RTOL of that tensor's
# scale plus the exact rule's bound for the case; a mistake counts only where its answer
# is DISTINCT times that far from the right one. Mistakes differ from the right answer by
# factors of order one (a sign, 2, the batch size, a derivative's value), rounding by
# about 1e-15: 1e-9 separates the two with six orders to spare on either side.
MATCH_RTOL = 1e-9
DISTINCT = 4.0

# the order in which matching codes are listed: CODES' order, specific mistakes before
# transformations of the right answer
_ORDER = list(CODES)


@dataclass
class Diagnosis:
    """The codes that explain an answer (``["unknown"]`` when none does) and where."""
    codes: list
    tensors: list = field(default_factory=list)       # the gradients the named mistake changes
    note: str = ""
    where: Where | None = None                         # where the answer is wrong (``localise``)

    def to_json(self) -> dict:
        return {"codes": self.codes, "words": self.words(),
                "where": None if self.where is None else self.where.to_json()}

    @property
    def known(self) -> bool:
        return self.codes != ["unknown"]

    def words(self) -> str:
        where = f" (in {', '.join('dL/d' + t for t in self.tensors)})" if self.tensors and self.known else ""
        if len(self.codes) == 1:
            text = f"{self.codes[0]}: {CODES[self.codes[0]]}{where}"
        else:
            text = ("several mistakes give this answer on this case: "
                    + "; ".join(f"{c}: {CODES[c]}" for c in self.codes) + where)
        text += f". {self.note}" if self.note else ""
        located = self.where.words() if self.where is not None else ""
        return text + (f"\nwhere: {located}" if located else "")


def fixed(code: str, note: str = "") -> Diagnosis:
    """A diagnosis that the failing check itself establishes (inputs modified, state between calls)."""
    return Diagnosis([code], note=note)


def _as_tensors(case, grads: dict) -> dict:
    """Gradients as arrays by name; 003's eight partials as its two 2 x 2 matrices."""
    if isinstance(case, ManualCase):
        w = [np.asarray(grads.get(n, np.nan), dtype=float).reshape(()) for n in MANUAL_NAMES]
        return {"W": np.array(w[:4]).reshape(2, 2), "V": np.array(w[4:]).reshape(2, 2)}
    out = {}
    for k, v in grads.items():
        try:
            out[k] = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            out[k] = np.full((0,), np.nan)
    return out


def _peak(a) -> float:
    """The largest finite magnitude of ``a`` (0 for none)."""
    return float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0)) if a.size else 0.0


class _Matcher:
    def __init__(self, case, right, expected: dict):
        self.expected = expected
        self.floor = exact_rule(case, right).gradient_atol
        self.float32 = exact_rule(case, right, "float32").gradient_atol
        self._peaks = {k: _peak(e) for k, e in expected.items()}

    def _tolerance(self, peak: float) -> float:
        return MATCH_RTOL * peak + self.floor

    def atol(self, *arrays):
        return self._tolerance(max((_peak(a) for a in arrays), default=0.0))

    def tolerances(self, candidate: dict) -> dict:
        """Each tensor's tolerance against the right one (``atol`` of the two); a candidate
        prepared once per case keeps them (a failure matches many answers against it)."""
        return {k: self._tolerance(max(_peak(c), self._peaks[k])) for k, c in candidate.items()}

    def matches(self, received: dict, candidate: dict, tolerances: dict | None = None) -> bool:
        tols = self.tolerances(candidate) if tolerances is None else tolerances
        return all(k in received and localise.close(received[k], c, tols[k]) for k, c in candidate.items())

    def changed(self, candidate: dict, tolerances: dict | None = None) -> list:
        """The tensors where ``candidate`` is distinct from the right answer."""
        tols = self.tolerances(candidate) if tolerances is None else tolerances
        return [k for k, c in candidate.items() if not localise.close(c, self.expected[k], DISTINCT * tols[k])]


def _transforms(case, expected: dict, received: dict, matcher) -> dict:
    """code -> candidate gradients that are transformations of the right one."""
    n = batch_size(case)
    whole = {"sign_flipped": -1.0, "scaled_2": 2.0, "scaled_half": 0.5}
    if n > 1:
        whole.update({"scaled_batch": float(n), "scaled_inverse_batch": 1.0 / n})
    out = {code: {k: f * e for k, e in expected.items()} for code, f in whole.items()}
    # per tensor: only those that differ (beyond the match tolerance: another order of the
    # same sums is not a difference) are transposed / averaged
    differs = [k for k in expected
               if not (k in received and localise.close(received[k], expected[k], matcher.atol(expected[k])))]
    transposed = {}
    for k, e in expected.items():
        r = received.get(k)
        if e.ndim == 2 and k in differs and r is not None and r.shape == e.shape[::-1] and (e.shape[0] > 1
                                                                                          or e.shape[1] > 1):
            transposed[k] = e.T
    if transposed:
        out["transposed"] = {**expected, **transposed}
    biases = [k for k in differs if k.startswith("b") and isinstance(case, (MLPCase, SoftmaxCase))]
    if biases and n > 1:
        out["bias_averaged"] = {**expected, **{k: expected[k] / n for k in biases}}
    return out


def _bias_not_summed(case, expected: dict, received: dict, matcher) -> list:
    """Bias gradients returned with one row (column) per instance whose sum is right."""
    if not isinstance(case, (MLPCase, SoftmaxCase)):
        return []
    n, column = batch_size(case), isinstance(case, MLPCase) and case.layout == "column"
    found = []
    for k, e in expected.items():
        r = received.get(k)
        if not k.startswith("b") or r is None or r.shape == e.shape:
            continue
        if r.shape == ((e.size, n) if column else (n, e.size)):
            summed = r.sum(axis=1 if column else 0)
            if localise.close(summed, e, matcher.atol(summed, e)):
                found.append(k)
    return found


def convention(case, received: dict, loss, probe, conv: dict, fixed: dict | None = None) -> Diagnosis | None:
    """``convention_mismatch`` (with the line to add) or ``inconsistent_convention`` when the
    answer is exactly that of another convention of the case's system, on the case and on the
    system's probe case (``recognition.recognise``); None otherwise. ``fixed`` ({system: {key:
    value}}) is what the run's assignment fixes: the advice is then to change the code."""
    from backprop_harness import systems
    from backprop_harness.recognition import recognise
    system = systems.for_case(case)
    params = case.params()
    if not system.choices or set(received) != set(params):
        return None
    shaped = _bias_shape_convention(case, received, conv)
    if shaped is not None:
        # over one instance, a (1, d) row is also a bias not summed over the batch: three say which
        other = probe_case(case) if probe is not None else None
        answer = probe(other) if other is not None else None
        if answer is None or _bias_shape_convention(other, answer[0], conv) is not None:
            return shaped
    try:
        grads = {k: np.asarray(v, dtype=float).reshape(np.shape(params[k])) for k, v in received.items()}
    except (TypeError, ValueError):
        return None
    if not all(np.isfinite(g).all() for g in grads.values()):
        return None
    answer = Gradient(None if loss is None else float(loss), grads, "impl")
    if probe is not None:
        # an answer that changes from call to call (state kept between calls) is nobody's convention
        again = probe(case)
        if again is None or any(not np.array_equal(np.asarray(again[0].get(k), dtype=float).reshape(np.shape(g)), g)
                                for k, g in grads.items()):
            return None
    other = system.probe(case, conv)
    probed = probe(other) if other is not None and probe is not None else None
    second = None
    if probed is not None:
        try:
            second = (other, Gradient(None if probed[1] is None else float(probed[1]),
                                      {k: np.asarray(v, dtype=float).reshape(np.shape(p))
                                       for k, v in probed[0].items() for p in [other.params()[k]]}, "impl"))
        except (KeyError, TypeError, ValueError):
            second = None
    if probe is not None and second is None:
        return None                  # a convention is named only where a second case confirms it
    seen = recognise(case, answer, conv, second)
    if seen is None:
        return None
    if seen.declare is not None:
        return Diagnosis(["convention_mismatch"], note=seen.message((fixed or {}).get(system.name)))
    return Diagnosis(["inconsistent_convention"], note=seen.message())


def _varies(case, received: dict, probe) -> bool:
    """Whether asking ``case`` again gives another answer than ``received``."""
    again = probe(case)
    if again is None:
        return False
    for k, v in received.items():
        try:
            a, b = np.asarray(v, dtype=float), np.asarray(again[0].get(k), dtype=float)
        except (TypeError, ValueError):
            return False
        if a.shape != b.shape or not np.array_equal(a, b, equal_nan=True):
            return True
    return False


def _bias_shape_convention(case, received: dict, conv: dict, probe=None) -> Diagnosis | None:
    """Every value right, the biases' gradients as (1, d) rows or (d, 1) columns where the
    declaration says otherwise: the bias convention, with its line."""
    from backprop_harness import systems
    right, expected, matcher, _ = _prepared(case)
    shapes = set()
    for k, e in right.grads.items():
        try:
            r = np.asarray(received[k], dtype=float)
        except (TypeError, ValueError):
            return None
        if r.shape == e.shape:
            if not localise.close(r, e, matcher.atol(e)):
                return None
            continue
        if not (k.startswith("b") and r.ndim == 2 and r.size == e.size
                and localise.close(r.reshape(e.shape), e, matcher.atol(e))):
            return None
        shapes.add("row" if r.shape[0] == 1 else "column")
    if len(shapes) != 1:
        return None
    bias = shapes.pop()
    if conv.get("bias") == bias:
        return None
    declared = {**systems.non_defaults(systems.for_case(case).name, conv), "bias": bias}
    line = systems.conventions_line({systems.for_case(case).name: declared})
    return Diagnosis(["convention_mismatch"], where=None,
                     note=f"The bias gradients have the right values as "
                          f"{'(1, d) rows' if bias == 'row' else '(d, 1) columns'}; "
                          f"if that is your code's convention, add this line to your file (its biases are then passed "
                          f"in that shape too):\n    {line}")


def diagnose(case, received: dict, loss=None, probe=None, conv: dict | None = None, ops=None,
             fixed: dict | None = None) -> Diagnosis:
    """Name the known mistakes whose answer on ``case`` is ``received`` (a dict of gradients
    by parameter name, as returned: any shape); ``loss`` the loss it reported.

    First, with the system's declared conventions ``conv``: an answer that is exactly that
    of another convention is named as such (``convention``), not as a mistake: a correct
    1/2 sum judged under the sum is not "the factor 2 is missing". ``fixed``: the conventions
    an assignment fixes for the run (the advice is then to change the code, not to declare).

    Then where it is wrong (``localise``): for a network, which tensors, their patterns and
    the layer (confirmed on the probe case); for a scalar engine (``ops``: the operations it
    has), probe graphs of one operation each, which name the operation whose local
    derivative is wrong ahead of any whole-graph code (an exponent of 2 with its factor
    dropped is not "half the gradient": the probe with exponent 3 gives a third).

    ``probe(case) -> (received, loss) or None`` asks the implementation about another case
    (``probe_case``: a larger batch, other weights; a graph at other leaf values): the
    mistakes that match are checked there too, and only those that match on both cases
    are named (several that coincide on the shrunk case are told apart; one that fits
    the failing case by accident, pow's missing -1 looking like x1/2 at x = 0.5, is not
    named at all).
    """
    if probe is not None and not isinstance(case, GraphCase) and _varies(case, received, probe):
        # the same call answered otherwise now: the answer is of the calls before it, not of the case
        return Diagnosis(["stale_state"], note="Asked the same case again, the implementation answered "
                                               "otherwise: state kept between calls decides the answer")
    inconsistent = None
    if conv is not None:
        named = convention(case, received, loss, probe, conv, fixed)
        if named is not None and named.codes != ["inconsistent_convention"]:
            return named
        inconsistent = named                 # said beside the mistake that gives it, if one does
    right, expected, matcher, _ = _prepared(case)
    where = _where(case, received, right, matcher)
    found = _match(case, received, loss)
    other = probe_case(case) if probe is not None else None
    second = probe(other) if other is not None else None
    note = ""
    if found and second is not None:
        kept = _match(other, *second, distinct=False, among=set(found))
        if not kept:
            note = (f"On the failing case the answer is what {' or '.join(sorted(found, key=_ORDER.index))} "
                    f"gives, but not on a second case: a coincidence of that case, not the mistake")
        found = {c: t for c, t in found.items() if c in kept}
    whole = [c for c in found if c in _WHOLE_ANSWER_CODES]
    if whole and probe is not None and not isinstance(case, (GraphCase, ManualCase)):
        # a transformation of the whole answer holds on any shapes: asked on other shapes (three
        # outputs or classes, no square layer), a local mistake that looks like one does not
        separating = separating_case(case, conv)
        third = probe(separating) if separating is not None else None
        if third is not None:
            kept = _match(separating, *third, distinct=False, among=set(whole))
            dropped = [c for c in whole if c not in kept]
            if dropped:
                note = (f"On the failing case the answer is what {' or '.join(dropped)} gives, but not on a case "
                        f"of other shapes: a local mistake that looks like it there")
            found = {c: t for c, t in found.items() if c not in dropped}
    if isinstance(case, GraphCase) and probe is not None and ops:
        located = _graph_operations(ops, probe)
        if located is not None:
            specific = [c for c in sorted(found, key=_ORDER.index) if c in _OPERATION_CODES]
            code = "wrong_local_derivative" if located.op != "backward" else "wrong_accumulation_or_order"
            if located.op == "backward":
                specific = [c for c in sorted(found, key=_ORDER.index) if c in _STRUCTURE_CODES]
            return Diagnosis(specific + [code], sorted({t for c in specific for t in found[c]}), where=located)
    if found:
        codes = sorted(found, key=_ORDER.index)
        if inconsistent is not None:
            return Diagnosis(codes + inconsistent.codes, sorted({t for c in codes for t in found[c]}),
                             note=inconsistent.note, where=where)
        return Diagnosis(codes, sorted({t for c in codes for t in found[c]}), where=where)
    if inconsistent is not None:
        return inconsistent
    if where is not None and where.wrong and not isinstance(case, GraphCase):
        confirmed = second is None or _same_layer(other, second, where)
        if confirmed and where.layer is not None:
            return Diagnosis(["wrong_backward_step"], where=where, note=note)
    if where is not None and not where.wrong and loss is not None and np.isfinite(loss) \
            and not _loss_agrees(case, right, loss):
        off = loss / right.loss if right.loss else float("inf")
        return Diagnosis(["loss_only"], note=f"The loss is {loss!r}, the right one {right.loss!r} "
                                             f"(ratio {off:.6g})", where=where)
    return Diagnosis(["unknown"], note=note, where=where if where is not None and where.wrong else None)


# The codes that transform the whole answer, whatever the network's shapes: a mistake local
# to one layer or one output coincides with one of them on small or square cases.
_WHOLE_ANSWER_CODES = ("sign_flipped", "scaled_2", "scaled_half", "scaled_batch", "scaled_inverse_batch",
                       "bias_averaged", "bias_not_summed", "loss_gradient_normalisation", "missing_output_derivative")


# The catalog's codes that a probe of one operation confirms (they name how a local
# derivative is wrong) and those that a probe of accumulation or order confirms.
_OPERATION_CODES = ("derivative_at_preactivation", "double_sigmoid")
_STRUCTURE_CODES = ("branch_overwritten", "no_topological_order")


def _probe_atol(expected) -> float:
    """Matching tolerance on a probe graph of one operation: its derivatives are one or two
    roundings from exact, far inside MATCH_RTOL of their size."""
    return MATCH_RTOL * max(1.0, float(np.max(np.abs(expected), initial=0.0)))


def _graph_operations(ops, probe) -> Where | None:
    """Ask one-operation graphs, then (all right) graphs of accumulation and order."""
    # operations engines usually build from others (a - b as a + (-b), -a as a * -1, a / b as
    # a * b ** -1) last: where one of those is wrong only through another, the other is named
    order = [op for op in ("add", "mul", "pow", "exp", "log", "sigmoid", "tanh", "relu", "neg", "sub", "div")
             if op in ops]
    return (localise.operations(order, probe, mistakes.right, _probe_atol)
            or localise.structure(order, probe, mistakes.right, _probe_atol))


def _where(case, received, right, matcher) -> Where | None:
    """Which tensors are wrong, their patterns and (networks) the layer; None if unreadable."""
    if isinstance(case, GraphCase):
        return None
    try:
        wrong, ok, patterns = localise.tensors(case, received, right.grads, lambda e: matcher.atol(e))
    except (TypeError, ValueError):
        return None
    return Where(wrong=wrong, right=ok, patterns=patterns, layer=localise.layer(case, wrong))


def _same_layer(other, second, where: Where) -> bool:
    """The probe case's answer is wrong first at the same layer."""
    right, _, matcher, _ = _prepared(other)
    there = _where(other, second[0], right, matcher)
    return there is not None and there.layer == where.layer


def _loss_agrees(case, right, loss) -> bool:
    return abs(loss - right.loss) <= exact_rule(case, right).loss_atol


def of_failure(exc) -> Diagnosis | None:
    """A failure that is not a wrong answer, named as what it is (None for a wrong answer).

    ``exc`` is the failure the check raised: the worker lost (a crash, a timeout), or a
    ``ConformanceFailure`` whose message is the protocol's own (a load error, a signature
    that does not fit, CONVENTIONS, a non-finite or malformed answer)."""
    from backprop_harness.isolation import WorkerLost
    if isinstance(exc, WorkerLost):
        return fixed("timeout" if exc.kind == "timeout" else "crash")
    text = str(exc)
    first = text.split("\n", 1)[0]
    if first.startswith("importing ") or first.startswith("implementation not found") \
            or first.startswith("loading the implementation failed") or "without __init__.py" in first:
        return fixed("load_error")
    if first.startswith("CONVENTIONS is not valid"):
        return fixed("bad_conventions")
    if first.startswith("signature mismatch"):
        return fixed("signature_mismatch")
    if " raised " in first.split(":", 1)[0] or first.split(":", 1)[0].endswith(" raised"):
        return fixed("crash")
    if "expected finite numbers" in first:
        return fixed("non_finite")
    if getattr(exc, "check", None) == "shapes and dtypes" and "float32" not in first and "float16" not in first:
        return fixed("wrong_structure")
    return None


def diagnose_repeat(case, first: dict, again: dict, probe=None) -> Diagnosis:
    """The same call answered ``first``, then (after a call with other arguments) ``again``.

    Right the first time and wrong after: state kept between calls (``stale_state``).
    Otherwise the known mistakes either answer matches, noting that the answer varies
    (a walk over a set, whose order changes from call to call, gives this with the
    gradient overwritten at branches); ``unknown`` when none does.
    """
    _, expected, matcher, _ = _prepared(case)
    if probe is not None:
        # state is the same wrong answer each time; an order that varies gives now one, now another
        answers = [probe(case) for _ in range(4)]
        seen = [a for a in answers if a is not None]
        distinct = {tuple(float(np.asarray(v, dtype=float).sum()) for v in a[0].values()) for a in seen}
        if len(distinct) > 1:
            return fixed("order_varies",
                         note=f"{len(distinct)} different answers in {len(seen)} calls of the same case")
    if matcher.matches(_as_tensors(case, first), expected):
        return fixed("stale_state")
    found = [diagnose(case, answer) for answer in (first, again)]
    codes = [c for d in found if d.known for c in d.codes]
    if not codes:
        return Diagnosis(["unknown"], note="the answer also varies from call to call")
    return Diagnosis(sorted(set(codes), key=_ORDER.index), sorted({t for d in found for t in d.tensors}),
                     note="The answer also varies from call to call: an order that changes between calls "
                          "(iterating over a set) can give that")


@per_case
def _prepared(case) -> tuple:
    """(the right answer, its tensors, the matcher, code -> the mistakes' tensors, each with
    its tolerances) for ``case``:
    the costly part of a diagnosis (every mistake's backward pass, the case's rounding
    magnitudes), a function of the case alone; a failure asks about the same case
    several times (each answer of a determinism check, the probe)."""
    right = mistakes.right(case)
    expected = _as_tensors(case, right.grads)
    matcher = _Matcher(case, right, expected)
    forms = {code: [_as_tensors(case, g.grads) for g in answers] for code, answers in mistakes.mistaken(case).items()}
    return right, expected, matcher, {code: [(f, matcher.tolerances(f)) for f in fs] for code, fs in forms.items()}


def _match(case, received: dict, loss, distinct=True, among=None) -> dict:
    """code -> the tensors it changes, for every known mistake (of ``among``, if given) whose
    answer on ``case`` ``received`` matches; ``distinct``: only where it changes the answer."""
    right, expected, matcher, mistaken = _prepared(case)
    got = _as_tensors(case, received)
    found = {}
    candidates = {code: list(forms) for code, forms in mistaken.items()}
    for code, cand in _transforms(case, expected, got, matcher).items():
        candidates.setdefault(code, []).append((cand, None))
    for code, forms in candidates.items():
        if among is not None and code not in among:
            continue
        for cand, tols in forms:
            if not matcher.matches(got, cand, tols):
                continue
            changed = matcher.changed(cand, tols)
            if changed or not distinct:
                found[code] = changed
                break
    not_summed = _bias_not_summed(case, expected, got, matcher)
    if not_summed and (among is None or "bias_not_summed" in among):
        rest = {k: e for k, e in expected.items() if k not in not_summed}
        if matcher.matches(got, rest):
            found["bias_not_summed"] = not_summed
    if (among is None or "float32" in among) and _float32(expected, got, matcher):
        found["float32"] = sorted(expected)
    if (among is None or "loss_gradient_normalisation" in among) and loss is not None \
            and matcher.matches(got, expected) and _renormalised(case, right.loss, loss):
        found["loss_gradient_normalisation"] = []
    return found


def _float32(expected, got, matcher) -> bool:
    """Every number a float32 (computed in float32, whatever it was converted to after),
    right within float32's rounding of the case and not within float64's."""
    if not all(k in got and got[k].shape == e.shape and np.all(np.isfinite(got[k])) for k, e in expected.items()):
        return False
    if not all(np.array_equal(got[k].astype(np.float32).astype(float), got[k]) for k in expected):
        return False
    err = max(float(np.max(np.abs(got[k] - e), initial=0.0)) for k, e in expected.items())
    return matcher.floor < err <= matcher.float32


def _renormalised(case, right_loss, loss) -> bool:
    """The loss is the right one times 1/n, n, 1/2 or 2: normalised unlike its gradient."""
    n = batch_size(case)
    factors = [0.5, 2.0] + ([1.0 / n, float(n)] if n > 1 else [])
    tol = MATCH_RTOL * abs(right_loss) + 1e-300
    return abs(loss - right_loss) > tol and any(abs(loss - f * right_loss) <= tol for f in factors)


def probe_case(case, seed: int = 20261122):
    """A second case of the same system and shapes, for disambiguation: other inputs and
    weights (drawn from a fixed seed) and three instances; a graph's leaves moved by up to a
    quarter (of 1 or of the leaf), where every operation stays defined and every value is
    below 1e6; None when eight tries find no such point."""
    rng = np.random.default_rng(seed)
    if isinstance(case, GraphCase):
        for _ in range(8):
            leaves = case.leaves + rng.uniform(-0.25, 0.25, case.leaves.shape) * np.maximum(1, np.abs(case.leaves))
            other = GraphCase(leaves, case.nodes)
            try:
                with np.errstate(all="raise"):
                    right = mistakes.right(other)
            except (ValueError, ZeroDivisionError, OverflowError, FloatingPointError):
                continue
            numbers = [float(right.loss), *(float(g) for g in right.grads.values())]
            if all(np.isfinite(v) and abs(v) < 1e6 for v in numbers):
                return other
        return None
    if isinstance(case, ManualCase):
        return ManualCase(rng.uniform(-2, 2, 2), rng.uniform(0, 1, 2), rng.uniform(-2, 2, 8))
    if isinstance(case, MLPCase):
        X, T, Ws = case.row_layout()
        n = 3
        X, T = rng.uniform(-2, 2, (n, X.shape[1])), rng.uniform(0, 1, (n, T.shape[1]))
        Ws = [rng.uniform(-1, 1, W.shape) for W in Ws]
        bs = None if case.bs is None else [rng.uniform(-1, 1, b.shape) for b in case.bs]
        if case.layout == "column":
            X, T, Ws = X.T, T.T, [W.T for W in Ws]
        return MLPCase(X, T, Ws, bs, case.activations, case.loss, case.layout)
    if isinstance(case, SoftmaxCase):
        n, k = 3, case.Y.shape[1]
        return replace(case, X=rng.uniform(-2, 2, (n, case.X.shape[1])), Y=np.eye(k)[rng.integers(0, k, n)],
                       **{p: rng.uniform(-1, 1, np.shape(getattr(case, p))) for p in ("W1", "b1", "W2", "b2")})
    return None


def separating_case(case, conv: dict | None = None):
    """A case of other shapes that separates a local mistake from a transformation of the whole
    answer (``System.probe``: three instances, or one under ``batch = "one"``; three outputs
    or classes; no square layer), under the same conventions; None for 003's fixed network
    and for graphs."""
    from backprop_harness import systems
    if isinstance(case, (GraphCase, ManualCase)):
        return None
    system = systems.for_case(case)
    return system.probe(case, conv if conv is not None else system.validate({}))
