"""Recognising an answer of another convention: a correct ½·Σ loss judged under Σ is not a
mistake, and the fix is a line of ``CONVENTIONS``, not a change to the code.

``recognise(case, answer, conv)`` asks the case under each of the system's variants
(``System.variants``: the conventions that change the loss's value but not the call)
and returns the ones whose loss *and* gradient both agree with the answer under
the policy's exact rule. An answer whose gradient is of one convention and loss of
another is inconsistent; that is reported as such, and no declaration makes it pass.
The right answers come from the reference, which the suite holds to every oracle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backprop_harness import systems
from backprop_harness.compare import gradient_report
from backprop_harness.implementations import reference_gradient

__all__ = ["Recognition", "recognise"]


@dataclass(frozen=True)
class Recognition:
    """``declare``: {system: {key: value}} of the entries to declare (the full set the
    variant differs by from the empty declaration); ``inconsistent``: the gradient matches
    ``gradient_of`` while the loss matches ``loss_of`` (each a conventions dict or None)."""
    system: str
    declare: dict | None = None
    gradient_of: dict | None = None
    loss_of: dict | None = None

    @property
    def line(self) -> str | None:
        return systems.conventions_line({self.system: self.declare}) if self.declare is not None else None

    def message(self, fixed: dict | None = None) -> str:
        """What to do about it; ``fixed`` ({key: value} of the system) is what the run's assignment
        fixes, which a declaration in the file cannot change."""
        if self.declare is not None and fixed:
            computed = {**systems.conventions({})[self.system], **self.declare}
            differ = {k: computed[k] for k, v in fixed.items() if computed.get(k) != v}
            if differ:
                return (f"Your code computes {', '.join(f'{k} = {v!r}' for k, v in differ.items())}; the "
                        f"assignment fixes {', '.join(f'{k} = {fixed[k]!r}' for k in differ)}: change the code to "
                        "the assignment's convention (a declaration in the file does not change what is asked)")
        if self.declare is not None:
            return ("If that convention is what you meant, add this line to your file (no code to change):\n"
                    f"    {self.line}")
        g = systems.conventions_line({self.system: systems.non_defaults(self.system, self.gradient_of)})
        if self.loss_of is None:
            return (f"The gradient is exactly that of another convention ({g}), but the loss is of none: "
                    "the loss and the gradient disagree with each other")
        lo = systems.conventions_line({self.system: systems.non_defaults(self.system, self.loss_of)})
        return (f"The gradient is exactly that of {g}, the loss that of {lo}; no declaration makes both "
                "right: the loss and its gradient must be of one function")


def _agrees(case, gradient, expected, with_loss: bool) -> bool:
    return gradient_report(case, gradient, expected, check_loss=with_loss) is None


def _loss_agrees(case, gradient, expected) -> bool:
    """Whether the answer's loss is the expected one under the exact rule (gradients set equal)."""
    same_grads = type(gradient)(gradient.loss, expected.grads, gradient.method)
    return _agrees(case, same_grads, expected, with_loss=True)


def _matches(system, case, gradient, conv) -> tuple:
    """(variants whose gradient the answer's is, conventions whose loss the answer's is: the
    declared one first) on ``case``."""
    grads_only = type(gradient)(None, gradient.grads, gradient.method)
    gradient_of, loss_of = [], []
    for variant in [conv] + system.variants(conv):
        other = system.under(case, variant)
        try:
            with np.errstate(all="ignore"):
                expected = reference_gradient(other)
        except (ValueError, FloatingPointError):
            continue
        if variant is not conv and _agrees(other, grads_only, expected, with_loss=False):
            gradient_of.append(variant)
        if gradient.loss is not None and _loss_agrees(other, gradient, expected):
            loss_of.append(variant)
    return gradient_of, loss_of


def recognise(case, gradient, conv: dict, probe: tuple | None = None) -> Recognition | None:
    """What the answer ``gradient`` (an ``oracles.Gradient`` for ``case``, asked under the
    system's conventions ``conv``) is, if it is the exact answer of another convention.

    ``probe`` is (a second case, the implementation's answer to it), from
    ``System.probe``: a convention is named only if it explains both answers, so that
    conventions which coincide on the first case (a mean and a sum over one instance)
    are told apart."""
    system = systems.for_case(case)
    gradient_of, loss_of = _matches(system, case, gradient, conv)
    if probe is not None:
        more_gradient, more_loss = _matches(system, probe[0], probe[1], conv)
        gradient_of = [v for v in gradient_of if v in more_gradient]
        loss_of = [v for v in loss_of if v in more_loss]
    both = [v for v in gradient_of if v in loss_of or gradient.loss is None]
    if both:
        return Recognition(system.name, declare=systems.non_defaults(system.name, both[0]))
    if gradient_of:
        return Recognition(system.name, gradient_of=gradient_of[0], loss_of=loss_of[0] if loss_of else None)
    return None
