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

from dataclasses import dataclass, field

import numpy as np

from backprop_harness import mistakes
from backprop_harness.compare import exact_rule
from backprop_harness.mistakes import batch_size
from oracles import Gradient
from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, SoftmaxCase, per_case
from oracles.tolerance import tolerance

__all__ = ["CODES", "MATCH_RTOL", "Diagnosis", "diagnose", "diagnose_repeat", "fixed", "probe_case"]

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
    "float32": "computed in float32: right to about 7 digits, not to float64's 16",
    "inputs_modified": "the implementation modifies the arrays it is given",
    "stale_state": "state kept from an earlier call (a cached forward pass) changes a later answer",
    "unknown": "no known mistake matches this answer",
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
        return text + (f". {self.note}" if self.note else "")


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


def _close(a, b, atol) -> bool:
    """Same shape, non-finite in the same places, and within ``atol`` elsewhere."""
    if a.shape != b.shape:
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        return False
    return bool(np.all(np.abs(a[fa] - b[fb]) <= atol))


class _Matcher:
    def __init__(self, case, right, expected: dict):
        self.expected = expected
        tol, scale, _ = exact_rule(case, right)
        self.floor = tol.atol(scale)
        self.float32 = tolerance("exact", "float32", case.summation_length).atol(scale)

    def atol(self, *arrays):
        finite = [np.abs(a[np.isfinite(a)]) for a in arrays if a.size]
        local = max((float(np.max(f, initial=0.0)) for f in finite), default=0.0)
        return MATCH_RTOL * local + self.floor

    def matches(self, received: dict, candidate: dict) -> bool:
        return all(k in received and _close(received[k], c, self.atol(c, self.expected[k]))
                   for k, c in candidate.items())

    def changed(self, candidate: dict) -> list:
        """The tensors where ``candidate`` is distinct from the right answer."""
        return [k for k, c in candidate.items()
                if not _close(c, self.expected[k], DISTINCT * self.atol(c, self.expected[k]))]


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
               if not (k in received and _close(received[k], expected[k], matcher.atol(expected[k])))]
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
            if _close(summed, e, matcher.atol(summed, e)):
                found.append(k)
    return found


def convention(case, received: dict, loss, probe, conv: dict) -> Diagnosis | None:
    """``convention_mismatch`` (with the line to add) or ``inconsistent_convention`` when the
    answer is exactly that of another convention of the case's system, on the case and on the
    system's probe case (``recognition.recognise``); None otherwise."""
    from backprop_harness import systems
    from backprop_harness.recognition import recognise
    system = systems.for_case(case)
    params = case.params()
    if not system.choices or set(received) != set(params):
        return None
    try:
        grads = {k: np.asarray(v, dtype=float).reshape(np.shape(params[k])) for k, v in received.items()}
    except (TypeError, ValueError):
        return None
    if not all(np.isfinite(g).all() for g in grads.values()):
        return None
    answer = Gradient(None if loss is None else float(loss), grads, "impl")
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
    seen = recognise(case, answer, conv, second)
    if seen is None:
        return None
    if seen.declare is not None:
        return Diagnosis(["convention_mismatch"], note=seen.message())
    return Diagnosis(["inconsistent_convention"], note=seen.message())


def diagnose(case, received: dict, loss=None, probe=None, conv: dict | None = None) -> Diagnosis:
    """Name the known mistakes whose answer on ``case`` is ``received`` (a dict of gradients
    by parameter name, as returned: any shape); ``loss`` the loss it reported.

    First, with the system's declared conventions ``conv``: an answer that is exactly that
    of another convention is named as such (``convention``), not as a mistake: a correct
    1/2 sum judged under the sum is not "the factor 2 is missing".

    ``probe(case) -> (received, loss) or None`` asks the implementation about another case
    (``probe_case``: a larger batch, other weights; a graph at other leaf values): the
    mistakes that match are checked there too, and only those that match on both cases
    are named (several that coincide on the shrunk case are told apart; one that fits
    the failing case by accident, pow's missing -1 looking like x1/2 at x = 0.5, is not
    named at all).
    """
    if conv is not None:
        named = convention(case, received, loss, probe, conv)
        if named is not None:
            return named
    found = _match(case, received, loss)
    if found and probe is not None:
        other = probe_case(case)
        answer = probe(other) if other is not None else None
        if answer is not None:
            kept = _match(other, *answer, distinct=False, among=set(found))
            if not kept:
                return Diagnosis(["unknown"], note=f"On the failing case the answer is what "
                                                   f"{' or '.join(sorted(found, key=_ORDER.index))} gives, but not "
                                                   f"on a second case: a coincidence of that case, not the mistake")
            found = {c: t for c, t in found.items() if c in kept}
    if not found:
        return Diagnosis(["unknown"])
    codes = sorted(found, key=_ORDER.index)
    tensors = sorted({t for c in codes for t in found[c]})
    return Diagnosis(codes, tensors)


def diagnose_repeat(case, first: dict, again: dict) -> Diagnosis:
    """The same call answered ``first``, then (after a call with other arguments) ``again``.

    Right the first time and wrong after: state kept between calls (``stale_state``).
    Otherwise the known mistakes either answer matches, noting that the answer varies
    (a walk over a set, whose order changes from call to call, gives this with the
    gradient overwritten at branches); ``unknown`` when none does.
    """
    _, expected, matcher, _ = _prepared(case)
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
    """(the right answer, its tensors, the matcher, code -> the mistakes' tensors) for ``case``:
    the costly part of a diagnosis (every mistake's backward pass, the case's rounding
    magnitudes), a function of the case alone; a failure asks about the same case
    several times (each answer of a determinism check, the probe)."""
    right = mistakes.right(case)
    expected = _as_tensors(case, right.grads)
    return (right, expected, _Matcher(case, right, expected),
            {code: [_as_tensors(case, g.grads) for g in answers]
             for code, answers in mistakes.mistaken(case).items()})


def _match(case, received: dict, loss, distinct=True, among=None) -> dict:
    """code -> the tensors it changes, for every known mistake (of ``among``, if given) whose
    answer on ``case`` ``received`` matches; ``distinct``: only where it changes the answer."""
    right, expected, matcher, mistaken = _prepared(case)
    got = _as_tensors(case, received)
    found = {}
    candidates = {code: list(forms) for code, forms in mistaken.items()}
    for code, cand in _transforms(case, expected, got, matcher).items():
        candidates.setdefault(code, []).append(cand)
    for code, forms in candidates.items():
        if among is not None and code not in among:
            continue
        for cand in forms:
            if not matcher.matches(got, cand):
                continue
            changed = matcher.changed(cand)
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
    """A second case of the same system for disambiguation: three instances, other weights
    (drawn from a fixed seed), the same shapes and conventions otherwise; a graph's leaves
    moved by up to a quarter (of 1 or of the leaf), where every operation stays defined
    and every value below 1e6; None when eight tries find no such point."""
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
        return SoftmaxCase(rng.uniform(-2, 2, (n, case.X.shape[1])), np.eye(k)[rng.integers(0, k, n)],
                           *(rng.uniform(-1, 1, np.shape(p)) for p in (case.W1, case.b1, case.W2, case.b2)),
                           reduction=case.reduction)
    return None
