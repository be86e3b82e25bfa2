"""The posts' worked examples, asked of a plugged-in implementation.

A fixture record names the reference function that recomputes it (``fixtures/``).
Where the protocol can answer the same question (the network's outputs, its
loss, the 8 partial derivatives, a ``Value`` graph's data and grads), this
module turns the record into a *question*: a case from the record's own input
set, the protocol function to call, and how to read the record's number from
the answer. The implementation must reproduce the number at the precision the
post printed; for an erratum, the value the document's own method really gives
(``document_gives``), never the misprint. Where the post printed more digits
than float64 fixes (a repr's 17), a different but exact order of operations
may change the last ones: there the bound is the exact rule's for the case
(``agrees``), as for any two exact evaluations.

Records the protocol cannot reach (hidden-layer intermediates, forward-mode
tangents, training loops) are not questions; ``questions()`` lists the rest.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

import fixtures
from oracles.cases import MANUAL_NAMES, GraphCase, ManualCase, MLPCase, Node
from oracles.rounding import exact_rule

__all__ = ["Question", "NotReadable", "questions", "read", "agrees"]


class NotReadable(LookupError):
    """The answer lacks the number a question reads (an intermediate ``grad`` the
    implementation's Value does not keep): the question is not provided, not failed."""


@dataclass(frozen=True)
class Question:
    record: fixtures.Record
    system: str
    fn: str                 # the protocol function that answers it
    case: object
    output: str             # what to read from the answer (see ``read``)
    ops: tuple = ()         # Value operations the graph needs
    node: tuple = ()        # graphs: ("data" or "grad", index of the value)

    @property
    def origin(self) -> str:
        """The record this question comes from, with its post by title (and author): a user of
        the harness has neither the posts' files nor, often, the posts' numbering."""
        return f"worked example {self.record.id} of {self.record.post}"

    @property
    def expected(self):
        """The tokens the implementation must reproduce: the corrected value for an erratum."""
        return self.record.document_gives if self.record.is_erratum else self.record.printed


def _split(output: str):
    """'g_V_1.1.1' -> ('g_V_1', (1, 1))."""
    base, *index = output.split(".")
    return base, tuple(int(i) for i in index)


def _graph_002(v):
    # x = a + b, y = b + c, f = x y
    return GraphCase([v["a"], v["b"], v["c"]], (Node("add", 0, 1), Node("add", 1, 2), Node("mul", 3, 4))), {
        "x": ("data", 3), "y": ("data", 4), "f": ("data", 5), "df_dx": ("grad", 3), "df_dy": ("grad", 4),
        "df_da": ("grad", 0), "df_db": ("grad", 1), "df_dc": ("grad", 2)}


def _product(v):
    return GraphCase([v["x"], v["y"]], (Node("mul", 0, 1),)), {
        "f": ("data", 2), "df_dx": ("grad", 0), "df_dy": ("grad", 1)}


def _quadratic(v):
    # f = 3 x^2 + 2 x y + 5, with + and * only
    nodes = (Node("mul", 0, 0), Node("mul", 3.0, 2), Node("mul", 0, 1), Node("mul", 2.0, 4),
             Node("add", 3, 5), Node("add", 6, 5.0))
    return GraphCase([v["x"], v["y"]], nodes), {"f": ("data", 7), "df_dx": ("grad", 0), "df_dy": ("grad", 1)}


def _squared_error(v, shifted: bool):
    # y = w x, L = (y - t)(y - t)
    w = v["w"] + v["delta"] if shifted else v["w"]
    case = GraphCase([w], (Node("mul", 0, float(v["x"])), Node("sub", 1, float(v["t"])), Node("mul", 2, 2)))
    if shifted:
        return case, {"y_shifted": ("data", 1), "loss_shifted": ("data", 3)}
    return case, {"y": ("data", 1), "loss": ("data", 3), "dloss": ("grad", 0)}


def _graph_questions(rec, values, builders):
    for build in builders:
        case, outputs = build(values)
        if rec.call.output in outputs:
            ops = tuple(sorted({n.op for n in case.nodes}))
            return [Question(rec, "scalar_graph", "Value", case, rec.call.output, ops, outputs[rec.call.output])]
    return []


_MANUAL_OUTPUTS = {"y1_out", "y2_out", "loss"} | {f"grad_{n}" for n in MANUAL_NAMES}


def _questions(rec: fixtures.Record) -> list:
    call = rec.call
    if call is None or call.kwargs or rec.kind == "derivation":
        return []
    values = {}
    for name in call.args:
        values.update(rec.inputs[name].values)
    if "dtype" in values:                      # the float32 replays: the protocol is float64
        return []
    fn = call.recompute.split(":")[1]
    base, _ = _split(call.output)
    if fn in ("backprop", "network_222_graph") and base in _MANUAL_OUTPUTS:
        case = ManualCase(values["x"], values["t"], values["w"])
        return [Question(rec, "manual_222", "forward" if base in ("y1_out", "y2_out", "loss") else "gradients",
                         case, call.output)]
    if fn == "vectorized_003" and base in ("Y", "L", "grad_W", "grad_V"):
        case = MLPCase(values["X"], values["T"], (values["W"], values["V"]))
        fns = ("NeuralNetwork",) if base == "Y" else ("mlp_gradients", "NeuralNetwork")
        return [Question(rec, "mlp", f, case, call.output) for f in fns]
    if fn == "training_step_003":
        k = base[-1]
        if base in (f"g_W_{k}", f"g_V_{k}", f"init_loss_{k}"):
            case = MLPCase(values[f"X{k}"], values[f"T{k}"], (values["W"], values["V"]))
            return [Question(rec, "mlp", f, case, call.output) for f in ("mlp_gradients", "NeuralNetwork")]
        return []
    if fn == "graph_002":
        return _graph_questions(rec, values, [_graph_002])
    if fn == "product":
        return _graph_questions(rec, values, [_product])
    if fn == "quadratic_003":
        return _graph_questions(rec, values, [_quadratic])
    if fn == "squared_error_1d":
        return _graph_questions(rec, values, [lambda v: _squared_error(v, False), lambda v: _squared_error(v, True)])
    return []


def questions(records=None) -> list:
    """Every worked-example question the protocol can answer, in fixture order."""
    records = fixtures.load() if records is None else records
    return [q for rec in records for q in _questions(rec)]


def _derivative_of(question: Question):
    """The parameter whose derivative the question reads (its gradient's key), or None
    for a value, an output or a loss."""
    base, _ = _split(question.output)
    if question.system == "scalar_graph":
        kind, i = question.node
        return f"x{i}" if kind == "grad" and i < question.case.leaves.size else None
    if question.system == "manual_222":
        return base[len("grad_"):] if base.startswith("grad_") else None
    if base.startswith(("grad_W", "g_W")):
        return "W1"
    return "W2" if base.startswith(("grad_V", "g_V")) else None


def read(question: Question, answer) -> np.ndarray:
    """The record's number from a ``plugin.Answer`` to ``question.case``."""
    base, index = _split(question.output)
    g = answer.gradient
    name = _derivative_of(question)
    if question.system == "scalar_graph":
        kind, i = question.node
        value = answer.extra["data" if kind == "data" else "grads"][i]
        if value is None:
            raise NotReadable(f"the Value of node {i} has no readable .grad after backward()")
    elif name is not None:
        value = g.grads[name]
    elif base in ("y1_out", "y2_out"):
        value = answer.extra["y"][0 if base == "y1_out" else 1]
    elif base == "Y":
        value = answer.extra["Y"]
    else:                                   # loss, L, init_loss_k
        value = g.loss
    value = np.asarray(value, dtype=float)
    return value[index] if index else value


def float64_bound(question: Question) -> np.ndarray:
    """How far two exact float64 evaluations of the question's case may differ in each
    number the question reads: the exact rule's tolerance on that number's rounding
    magnitude (a derivative's own entry; the loss's for a loss or an output; the case's
    largest for a graph's intermediate values, whose magnitudes are not tracked)."""
    case = question.case
    rule = exact_rule(case)
    tol, L_mag, mags = rule.tolerance, rule.loss_magnitude, rule.magnitudes
    name = _derivative_of(question)
    if name is not None:
        _, index = _split(question.output)
        mag = mags[name][index] if index else mags[name]
    elif question.system == "scalar_graph" and question.node[1] != case.leaves.size + len(case.nodes) - 1:
        mag = max([L_mag] + [float(np.max(m)) for m in mags.values()])
    else:
        mag = L_mag
    return np.broadcast_to(tol.rtol * np.maximum(mag, tol.floor), np.shape(question.expected))


def agrees(question: Question, value) -> tuple[bool, list]:
    """Whether ``value`` reproduces ``question.expected``: each entry within half a unit
    of the last place its token prints plus ``float64_bound``, so a 17-digit repr asks
    for the number up to the rounding of a different order of operations, and a 4-digit
    print for those 4 digits. Returns (ok, the entries that are not), in the form
    ``fixtures.describe`` words, each with the bound applied."""
    ok, bad = fixtures.agrees_at_printed_precision(value, question.expected)
    if ok or bad[0][0] == "shape":
        return ok, bad
    bounds = float64_bound(question)
    still = []
    for index, token, got, rounded in bad:
        half_unit = Decimal(1).scaleb(Decimal(token).as_tuple().exponent) / 2
        off = Decimal(got) - Decimal(token)
        if abs(off) > half_unit + Decimal(float(bounds[index])):
            still.append((index, token, got, f"{rounded} (off by {float(off):.3g}: more than half a unit in the "
                                              f"last printed place, {float(half_unit):.3g}, plus float64's "
                                              f"bound for this number, {float(bounds[index]):.3g})"))
    return not still, still
