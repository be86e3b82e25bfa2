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

__all__ = ["CODES"]

# code -> the mistake, in words (the failure message's "diagnosis:" line)
CODES = {
    "transposed": "a weight gradient is the transpose of the right one (delta^T A instead of A^T delta, "
                  "or a transpose added to make the shapes fit)",
    "sign_flipped": "the gradient has the wrong sign (the error taken as target - output, or a minus folded in)",
    "scaled_2": "the gradient is twice the right one",
    "scaled_half": "the gradient is half the right one (the factor 2 of the squared error is missing)",
    "scaled_batch": "the gradient is the batch size times the right one",
    "scaled_inverse_batch": "the gradient is the right one divided by the batch size (averaged where the loss sums)",
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
    "float32": "computed in float32: right to about 7 digits, not to float64's 16",
    "inputs_modified": "the implementation modifies the arrays it is given",
    "stale_state": "state kept from an earlier call (a cached forward pass) changes a later answer",
    "unknown": "no known mistake matches this answer",
}
