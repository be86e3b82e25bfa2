"""The four systems, one module each, and the registry the rest of the harness iterates over.

A system module says everything that is particular to it: its case type
(``oracles.cases``), its protocol functions and how each is called, its
conventions (the choices, their defaults, how each changes the question), how
a case becomes a request to the worker and a reply becomes a checked
``Answer``, and which other conventions an answer may be recognised under.
Adding a convention touches its system's module (and the oracles, if it
changes the loss); adding a system adds a module and a line in ``SYSTEMS``.

    system = for_case(case)                  # the System that asks this case
    system = SYSTEMS["mlp"]
    conv = conventions(module.CONVENTIONS)   # {system name: {key: value}}, validated
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Choice", "System", "ConventionError", "SYSTEMS", "for_case", "for_function", "conventions",
           "conventions_line", "non_defaults"]


class ConventionError(ValueError):
    """The implementation's ``CONVENTIONS`` is not one the protocol knows; the message says what is."""


@dataclass(frozen=True)
class Choice:
    """One declarable convention: ``key``, its ``values`` (or ``number`` for a float >= 0),
    the ``default``, and what each value means (``doc``)."""
    key: str
    default: object
    doc: str
    values: tuple = ()
    number: bool = False

    def validate(self, system: str, value):
        if self.number:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
                    or value != value or value == float("inf"):
                raise ConventionError(f"CONVENTIONS[{system!r}][{self.key!r}] = {value!r}; expected a finite "
                                      f"number >= 0 ({self.doc})")
            return float(value)
        if value not in self.values:
            raise ConventionError(f"CONVENTIONS[{system!r}][{self.key!r}] = {value!r}; expected one of "
                                  f"{list(self.values)} ({self.doc})")
        return value


class System:
    """What every system module provides (see ``mlp.py`` for a full one)."""
    name: str
    case_type: type
    functions: tuple                 # protocol names, the gradient function first
    calls: dict                      # protocol name -> how the harness calls it (for messages)
    choices: tuple = ()              # the declarable conventions (``Choice``)

    def defaults(self) -> dict:
        return {c.key: c.default for c in self.choices}

    def validate(self, entries) -> dict:
        if not isinstance(entries, dict):
            raise ConventionError(f"CONVENTIONS[{self.name!r}] must be a dict, got {type(entries).__name__}")
        result = self.defaults()
        by_key = {c.key: c for c in self.choices}
        for key, value in entries.items():
            if key not in by_key:
                raise ConventionError(f"CONVENTIONS[{self.name!r}][{key!r}]: unknown key; expected one of "
                                      f"{sorted(by_key)}")
            result[key] = by_key[key].validate(self.name, value)
        return self.finish(result)

    def finish(self, conv: dict) -> dict:
        """Defaults that depend on other choices (a column layout's bias shape)."""
        return conv

    # -- the plug-in path ---------------------------------------------------------------------

    def request(self, case, fn: str, conv: dict) -> dict:
        """The wire request that asks ``fn`` about ``case``."""
        raise NotImplementedError

    def answer(self, case, fn: str, request: dict, reply: dict, conv: dict):
        """The "ok" reply as a checked ``answers.Answer``; a ``ConformanceFailure`` otherwise."""
        raise NotImplementedError

    def raw(self, case, fn: str, result, conv: dict) -> tuple:
        """(gradients by parameter name, loss) as returned, unchecked (for a failure's evidence);
        ({}, None) where the result does not have that structure."""
        return {}, None

    def loss_function(self, fn: str) -> str:
        """The function whose reply gives the loss (003's ``forward`` for its ``gradients``)."""
        return fn

    def loss(self, case, fn: str, request: dict, reply: dict, conv: dict) -> float:
        return float(self.answer(case, fn, request, reply, conv).gradient.loss)

    # -- the reproducer ---------------------------------------------------------------------------

    def reproducer_call(self, case, fn: str, conv: dict, literal) -> tuple:
        """(lines that call ``fn`` on ``case`` as the harness did, {label: expression of what was
        received}); ``literal(array)`` writes an array as Python. This default serves the
        systems whose requests are a plain call."""
        request = self.request(case, fn, conv)
        lines = ["args = [" + ", ".join(literal(a) for a in request["args"]) + "]",
                 f"result = impl.{fn}(*args)"]
        return lines, self.received(case, fn, conv)

    def received(self, case, fn: str, conv: dict) -> dict:
        raise NotImplementedError

    def expected(self, case, fn: str, gradient, conv: dict) -> dict:
        """{label: value} of ``gradient`` (the right answer to ``case``) in the shapes the
        implementation returns under ``conv``, labelled as ``reproducer_call``'s received."""
        out = {} if gradient.loss is None else {"loss": gradient.loss}
        out.update({f"dL/d{k}": v for k, v in gradient.grads.items()})
        return out

    # -- conventions as questions ----------------------------------------------------------------

    def under(self, case, conv: dict):
        """``case`` asked under ``conv`` (its data and parameters kept): for recognising an answer
        of another convention. Only the conventions that change the loss's value matter."""
        return case

    def not_applicable(self, case, conv: dict) -> str | None:
        """Why ``case`` (a worked example, computed under its post's conventions) is not a
        question under ``conv``, or None where it is."""
        return None

    def probe(self, case, conv: dict):
        """A second case asked under ``conv``, chosen to separate conventions that coincide on
        small cases (batch 1, one output: a mean is a sum), or None where there is none."""
        return None

    def variants(self, conv: dict) -> list:
        """Other conventions an implementation may have meant, which change the loss's value but
        not the call: each a full conventions dict of this system."""
        return []


def _registry() -> dict:
    from backprop_harness.systems import manual_222, mlp, scalar_graph, softmax
    return {s.name: s for s in (scalar_graph.SYSTEM, manual_222.SYSTEM, mlp.SYSTEM, softmax.SYSTEM)}


SYSTEMS: dict = _registry()
_BY_CASE = {s.case_type: s for s in SYSTEMS.values()}
_BY_FUNCTION = {fn: s for s in SYSTEMS.values() for fn in s.functions}


def for_case(case) -> System:
    try:
        return _BY_CASE[type(case)]
    except KeyError:
        raise TypeError(f"not a case: {type(case).__name__}; expected one of "
                        f"{sorted(t.__name__ for t in _BY_CASE)}") from None


def for_function(fn: str) -> System:
    try:
        return _BY_FUNCTION[fn]
    except KeyError:
        raise ValueError(f"unknown protocol function {fn!r}; expected one of {sorted(_BY_FUNCTION)}") from None


def conventions(declared) -> dict:
    """{system: {key: value}}: every system's defaults updated with ``CONVENTIONS``.

    Raises ``ConventionError`` naming the bad system, key or value and the valid choices.
    """
    if declared is not None and not isinstance(declared, dict):
        raise ConventionError(f"CONVENTIONS must be a dict like {{'mlp': {{'layout': 'column'}}}}, "
                              f"got {type(declared).__name__}")
    declared = declared or {}
    with_choices = [name for name, s in SYSTEMS.items() if s.choices]
    for name in declared:
        if name not in with_choices:
            raise ConventionError(f"CONVENTIONS[{name!r}]: no conventions to declare for {name!r}; "
                                  f"expected keys among {with_choices}")
    return {name: s.validate(declared.get(name, {})) for name, s in SYSTEMS.items()}


def non_defaults(system: str, conv: dict) -> dict:
    """The entries of ``conv`` (one system's) that differ from what an empty declaration gives."""
    base = SYSTEMS[system].validate({})
    return {k: v for k, v in conv.items() if base.get(k) != v}


def conventions_line(declared: dict) -> str:
    """``CONVENTIONS = {...}`` as a line of Python to paste: ``declared`` is {system: {key: value}}
    of the entries to declare."""
    parts = []
    for system, entries in declared.items():
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in entries.items())
        parts.append(f"{system!r}: {{{inner}}}")
    return ("CONVENTIONS = {" + ", ".join(parts) + "}").replace("'", '"')
