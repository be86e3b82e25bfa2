"""What Hypothesis draws from is fixed before a run's first test.

Hypothesis biases its draws with the literals of the "local" modules loaded when it
draws; the conformance plug-in loads every module of the harness first
(``conformance.plugin.load_harness``), so that a derandomized test's examples do not
depend on what the tests before it in its process imported.
"""
from __future__ import annotations

import importlib.util
import sys
import types

from hypothesis.internal.constants_ast import constants_from_module

from backprop_harness import AUTODIFF_ORACLES, harness_modules
from backprop_harness.conformance.plugin import chosen_oracles


def test_every_module_of_the_harness_is_loaded_before_the_first_test(pytestconfig):
    """This test may run first in its process: what it finds loaded was loaded at collection."""
    expected = harness_modules(chosen_oracles(pytestconfig))
    assert "backprop_harness.report.page" in expected and "backprop_harness.diagnosis" in expected
    assert [name for name in expected if name not in sys.modules] == []


def _constants(name: str) -> set:
    """The literals Hypothesis takes from a module's source, without importing it, as
    (type, value): Hypothesis keeps each type's pool apart, and 3 == 3.0."""
    module = types.ModuleType(name)
    module.__file__ = importlib.util.find_spec(name).origin
    return {(type(c).__name__, c) for c in constants_from_module(module)}


def test_the_autodiff_oracles_add_no_number_to_what_hypothesis_draws_from():
    """Loaded only where chosen (they import torch and JAX), so a test that uses one loads it
    in the middle of a run: its numbers must already be among the other modules'. Strings
    would only bias text, which no strategy here draws."""
    others = set().union(*(_constants(name) for name in harness_modules()))
    for name in AUTODIFF_ORACLES.values():
        new = {c for kind, c in _constants(name) - others if kind in ("int", "float")}
        assert new == set(), (f"{name} has literals no other harness module has, {sorted(new)}: Hypothesis's "
                              f"examples would change where a test loads it; load it in load_harness, or use "
                              f"a constant of another module")
