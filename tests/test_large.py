"""oracles.large: every entry covered by a block question answered by the complex step,
the layer-aware evaluation against the generic one, and bisection."""
from __future__ import annotations

import numpy as np
import pytest

from backprop_harness.implementations import reference_gradient
from oracles.cases import GraphCase, ManualCase, MLPCase, Node, SoftmaxCase
from oracles.large import (
    Layered,
    answer_blocks,
    bisect_blocks,
    directional_only,
    prepare,
    probe_blocks,
    random_mlp,
    verify,
)
from oracles.numeric import sigmoid

_rng = np.random.default_rng(7)


def _mlp(dims, n, acts="sigmoid", loss="sse", layout="row", biases=True, scale=1.0):
    Ws = [_rng.normal(0, scale / np.sqrt(a), (a, b)) for a, b in zip(dims, dims[1:])]
    bs = [_rng.normal(0, 0.1, b) for b in dims[1:]] if biases else None
    X, T = _rng.uniform(-1, 1, (n, dims[0])), _rng.uniform(0, 1, (n, dims[-1]))
    if layout == "column":
        X, T, Ws = X.T, T.T, [W.T for W in Ws]
    return MLPCase(X, T, Ws, bs, acts, loss, layout)


def _softmax(reduction="sum", logit_scale=1.0):
    return SoftmaxCase(_rng.uniform(-1, 1, (6, 5)), np.eye(4)[[0, 1, 2, 3, 0, 1]], _rng.normal(0, 1, (5, 7)),
                       _rng.normal(0, 0.1, 7), _rng.normal(0, logit_scale, (7, 4)), _rng.normal(0, logit_scale, 4),
                       reduction)


CASES = {
    "mlp": random_mlp((32, 64, 10), batch=8),
    "softmax": SoftmaxCase(np.random.default_rng(1).uniform(-1, 1, (6, 5)), np.eye(4)[[0, 1, 2, 3, 0, 1]],
                           np.random.default_rng(2).normal(0, 1, (5, 7)), np.zeros(7),
                           np.random.default_rng(3).normal(0, 1, (7, 4)), np.zeros(4)),
    "graph": GraphCase([0.5, -1.25, 2.0], (Node("mul", 0, 1), Node("tanh", 3), Node("add", 4, 2),
                                           Node("pow", 5, 2.0))),
    "manual": ManualCase([0.35, 0.9], [0.5, 0.1], [0.1, 0.8, 0.4, 0.6, 0.3, 0.9, 0.5, 0.2]),
}

# what the layer-aware evaluation must handle: depth, activations, layouts, losses, no biases,
# saturated units, the softmax head at ordinary and at +-1000 logits
VARIANTS = {
    "deep tanh relu identity column half_mean": _mlp((5, 7, 6, 4, 3), 4, ("tanh", "relu", "identity", "sigmoid"),
                                                     "half_mean", "column"),
    "no biases": _mlp((4, 6, 3), 5, ("sigmoid", "tanh"), biases=False),
    "saturated": _mlp((6, 9, 3), 5, scale=40.0),
    "softmax mean": _softmax("mean"),
    "softmax logits 1000": _softmax("sum", logit_scale=1000.0),
}


def _wrong(case, errors):
    """The reference's gradient with ``errors`` ({tensor: {index: error / max |grad|}}) added;
    (gradient, max |grad|)."""
    grads = {k: np.array(v) for k, v in reference_gradient(case).grads.items()}
    gmax = max(float(np.max(np.abs(g))) for g in grads.values())
    for name, entries in errors.items():
        for index, rel in entries.items():
            grads[name][index] += rel * gmax
    return grads, gmax


@pytest.mark.parametrize("name", list(CASES) + list(VARIANTS))
def test_a_correct_gradient_passes_and_agrees_to_1e_12(name):
    case = {**CASES, **VARIANTS}[name]
    result = verify(case, reference_gradient(case).grads)
    assert result.ok, result.report()
    assert result.worst <= 1e-12


@pytest.mark.parametrize("name", VARIANTS)
def test_the_layer_aware_evaluation_is_the_generic_complex_step(name):
    """Blocks of every tensor, asked through the layer-aware evaluation and through
    ``complex_step`` on ``oracles.numeric.loss``: two exact evaluations of one derivative,
    held to the exact rule on each block's magnitude."""
    case = VARIANTS[name]
    _, params, grads, mags, tol, _ = prepare(case, reference_gradient(case).grads, 0)
    probes = probe_blocks(params, mags, Layered(case), np.random.default_rng(0), budget=8)
    fast, _ = answer_blocks(case, params, Layered(case), probes)
    generic, _ = answer_blocks(case, params, None, probes)
    scales = np.array([np.sum(np.ravel(mags[name])[idx]) for _, name, idx, _ in probes])
    assert np.all(np.abs(fast - generic) <= [tol.atol(s) for s in scales])
    assert np.max(np.abs(generic)) > 0


def test_blocks_partition_each_tensor_by_unit_and_two_entries_share_at_most_one_block():
    case = CASES["mlp"]
    _, params, grads, mags, _, _ = prepare(case, reference_gradient(case).grads, 0)
    layered = Layered(case)
    probes = probe_blocks(params, mags, layered, np.random.default_rng(0), budget=64)
    for name, p in params.items():
        first = [idx for label, k, idx, _ in probes if k == name and label.startswith("block")]
        second = [idx for label, k, idx, _ in probes if k == name and label.startswith("cover")]
        assert sorted(np.concatenate(first).tolist()) == list(range(p.size))
        if name.startswith("W"):                                    # (a bias entry is a unit of its own)
            assert max(b.size for b in first) > 1 and second        # the budget forces shared blocks
        unit = layered.entries(name, np.arange(p.size))[2]
        assert all(np.unique(unit[b]).size == 1 for b in first)    # a first-cover block moves one unit
        block_of = np.empty(p.size, dtype=int)
        for b, idx in enumerate(first):
            block_of[idx] = b
        assert all(np.unique(block_of[idx]).size == idx.size for idx in second)


def test_each_block_is_held_to_the_exact_rule_on_its_own_magnitudes_and_under_the_cap():
    case = CASES["mlp"]
    result = verify(case, reference_gradient(case).grads, budget=64)
    _, params, _, mags, tol, gmax = prepare(case, reference_gradient(case).grads, 0)
    probes = probe_blocks(params, mags, Layered(case), np.random.default_rng(0), budget=64)
    cap = sum(float(np.sum(m)) for m in mags.values()) / 64
    by_label = {q.label: q for q in result.questions}
    for label, name, idx, _ in probes:
        own = np.ravel(mags[name])[idx]
        q = by_label[label]
        assert q.scale == pytest.approx(float(np.sum(own)), rel=1e-12)
        # plus the complex step's noise figure, 2 eps max(|C(h)|, |C(2h)|), ~2 eps |expected|
        assert tol.atol(q.scale) <= q.tol <= tol.atol(q.scale, 2 * np.finfo(float).eps * abs(q.expected) * 1.01)
        if label.startswith("block"):
            assert q.scale <= cap + float(np.max(own)) * (1 + 1e-12)
    worst_block = max(q.tol for q in result.questions if q.label.startswith("block") and q.tensor == "W1")
    assert result.resolution["W1"] <= worst_block / gmax


@pytest.mark.parametrize("name", ["mlp", "deep tanh relu identity column half_mean", "softmax mean"])
def test_one_wrong_entry_just_above_the_resolution_is_caught_and_located(name):
    """Twice the reported resolution, at random entries of every tensor (indices in the
    parameter's own layout, so a column-layout W is located where it was changed)."""
    case = {**CASES, **VARIANTS}[name]
    resolution = verify(case, reference_gradient(case).grads, budget=64).resolution
    rng = np.random.default_rng(3)
    for tensor, p in case.params().items():
        index = tuple(int(rng.integers(s)) for s in np.shape(p))
        grads, _ = _wrong(case, {tensor: {index: 2 * resolution[tensor]}})
        result = verify(case, grads, budget=64)
        assert not result.ok and result.located == {tensor: [index]}, (tensor, index, result.report())


def test_a_wrong_entry_below_a_whole_tensor_direction_is_now_caught():
    """10x the first-cover resolution is far below one direction over W1, which missed it."""
    case = CASES["mlp"]
    correct = verify(case, reference_gradient(case).grads, budget=64)
    grads, _ = _wrong(case, {"W1": {(5, 17): 10 * correct.resolution["W1"]}})
    assert directional_only(case, grads).ok
    assert verify(case, grads, budget=64).located == {"W1": [(5, 17)]}


@pytest.mark.parametrize("same_sign", [True, False], ids=["cancel in their block", "add up in their block"])
def test_two_opposite_errors_in_one_block_are_both_located(same_sign):
    """+e and -e at two entries of one first-cover block. Where the block's signs are equal
    they cancel in it, and the second cover, which never puts them together, finds them;
    where the signs differ they add up, and bisection, halving with the block's own signs,
    keeps them adding up down to each entry."""
    case = CASES["mlp"]
    _, params, grads, mags, _, _ = prepare(case, reference_gradient(case).grads, 0)
    probes = probe_blocks(params, mags, Layered(case), np.random.default_rng(0), budget=64)   # verify's, seed 0
    def partner(signs):          # an entry in the same half as the first, of the sign wanted
        half = signs[1:(signs.size + 1) // 2]
        return 1 + int(np.argmax((half == signs[0]) == same_sign)) if np.any((half == signs[0]) == same_sign) else 0

    label, idx, p = next((label, idx, partner(signs)) for label, name, idx, signs in probes
                         if name == "W2" and label.startswith("block") and partner(signs))
    i, j = int(idx[0]), int(idx[p])
    where = [tuple(int(x) for x in np.unravel_index(e, params["W2"].shape)) for e in (i, j)]
    resolution = verify(case, reference_gradient(case).grads, budget=64).resolution["W2"]
    grads, _ = _wrong(case, {"W2": {where[0]: 20 * resolution, where[1]: -20 * resolution}})
    result = verify(case, grads, budget=64)
    assert next(q for q in result.questions if q.label == label).ok == same_sign
    assert not result.ok and result.located == {"W2": sorted(where)}
    if not same_sign:                        # their block alone, bisected: both found, not cancelled
        _, params, grads, mags, tol, _ = prepare(case, grads, 0)
        block = next(b for b in probes if b[0] == label)
        assert sorted(bisect_blocks(case, params, grads, mags, Layered(case), tol, [block])[0]) == sorted([i, j])


def test_a_wrong_tensor_is_reported_as_widespread_without_checking_every_entry():
    case = CASES["mlp"]
    grads, _ = _wrong(case, {})
    grads["W1"] *= 1.0001
    result = verify(case, grads, budget=1024)
    blocks = sum(q.label.startswith("block W1") for q in result.questions)
    failing = sum(q.label.startswith("block W1") and not q.ok for q in result.questions)
    assert not result.ok and failing > 64
    assert result.located["W1"] == [f"widespread: {failing} of the {blocks} blocks of its 2048 entries hold wrong "
                                    "entries; not located one by one"]
    assert result.evaluations == 2 * len(result.questions)                  # no bisection spent


def test_directional_only_passes_a_correct_gradient_and_fails_a_wrong_one():
    case = CASES["mlp"]
    grads = {k: np.array(v) for k, v in reference_gradient(case).grads.items()}
    assert directional_only(case, grads).ok
    grads["W2"] = -grads["W2"]
    assert not directional_only(case, grads).ok


def test_the_branch_free_sigmoid_is_the_two_branch_definition_bitwise():
    """numeric.sigmoid (which large.py runs on whole layers) takes no boolean indexing;
    its values must be those of 1/(1 + e^-z) for Re z >= 0 and e^z/(1 + e^z) below."""
    z = np.concatenate([_rng.normal(0, 5, 1000), [0.0, -0.0, 709.8, -709.8, 1000.0, -1000.0, 37.0, -37.0]])
    z = z + 1j * np.concatenate([_rng.normal(0, 1e-151, z.size - 2), [3e-151, -6e-151]])
    for x in (z, z.real):
        pos = x.real >= 0
        expected = np.empty_like(x)
        expected[pos] = 1 / (1 + np.exp(-x[pos]))
        expected[~pos] = np.exp(x[~pos]) / (1 + np.exp(x[~pos]))
        assert np.array_equal(sigmoid(x), expected)
    assert sigmoid(np.int8(3)) == 1 / (1 + np.exp(-3.0))          # integers computed in float64
