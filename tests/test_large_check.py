"""backprop_harness.large_check: a user's implementation of a large network, checked
through the plug-in path; exit 0 pass, 1 wrong, 2 nothing could be checked."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from backprop_harness.large_check import main

ROOT = Path(__file__).resolve().parent.parent


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_reference_passes(capsys):
    code, out, err = _run(capsys, "--impl", ROOT / "reference" / "protocol.py", "--dims", "16,24,5", "--batch", "4")
    assert code == 0, out + err
    assert "PASS: the gradient agrees with the complex step" in out
    assert "loss: IMPL" in out and "agrees" in out
    for tensor in ("W1", "W2", "b1", "b2"):                      # the per-tensor resolution table
        assert any(line.split()[:1] == [tensor] and line.endswith("ok") for line in out.splitlines())


def test_a_buggy_zoo_entry_fails_and_only_its_wrong_tensors_are_named(capsys):
    """Errors sent back through W instead of W.T: only where a later layer is square, so with
    a square second layer dW1 and db1 are wrong, dW2 and db2 right."""
    code, out, _ = _run(capsys, "--impl", ROOT / "zoo" / "buggy" / "mlp_weight_not_transposed.py",
                        "--dims", "12,12,12", "--batch", "4")
    assert code == 1
    assert "FAIL: the gradient of W1, b1 is wrong" in out


def test_one_subtly_wrong_entry_and_a_wrong_loss_are_reported(tmp_path, capsys):
    """One entry of dW2 off by 1e-7 of the gradient's largest entry (far below one direction
    over W2: caught by its block, located by bisection), and the loss off by 1e-9 of itself."""
    plugin = tmp_path / "one_entry.py"
    plugin.write_text("import numpy as np\nfrom reference import protocol as _ref\n\n\n"
                      "def mlp_gradients(X, T, Ws, bs):\n"
                      "    loss, dWs, dbs = _ref.mlp_gradients(X, T, Ws, bs)\n"
                      "    dWs[1][7, 3] += 1e-7 * max(float(np.max(np.abs(d))) for d in list(dWs) + list(dbs))\n"
                      "    return loss * (1 + 1e-9), dWs, dbs\n")
    code, out, _ = _run(capsys, "--impl", plugin, "--dims", "16,24,5", "--batch", "4")
    assert code == 1
    assert "W2: 1 wrong entry located: [(7, 3)]" in out
    assert "FAIL: the gradient of W2 is wrong; the loss is wrong" in out


@pytest.mark.parametrize("argv, message", [
    (["--dims", "256,abc"], "'256,abc' is not a list of layer sizes; expected at least two positive integers"),
    (["--dims", "10"], "expected at least two positive integers"),
    (["--dims", "4,0,3"], "expected at least two positive integers"),
    (["--batch", "0"], "--batch: '0': expected a positive integer"),
    (["--system", "softmax", "--dims", "4,5,6,3"], "the softmax network has one hidden layer; expected three sizes"),
    (["--system", "graph"], "invalid choice: 'graph'"),
], ids=["letters", "one size", "zero", "batch", "softmax depth", "system"])
def test_bad_arguments_exit_2_saying_what_was_expected(capsys, argv, message):
    code, out, err = _run(capsys, "--impl", ROOT / "reference" / "protocol.py", *argv)
    assert code == 2 and message in err and "usage: backprop-harness large" in err


def test_a_missing_file_exits_2_naming_it_and_runs_as_a_module(tmp_path):
    run = subprocess.run([sys.executable, "-m", "backprop_harness.large_check", "--impl", str(tmp_path / "mine.py")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2
    assert f"implementation not found: {tmp_path / 'mine.py'} (no such file)" in run.stderr


@pytest.mark.parametrize("impl, argv, message", [
    ("zoo/correct/softmax_explicit_jacobian.py", [],
     "does not provide the mlp system: expected mlp_gradients(X, T, Ws, bs) or NeuralNetwork"),
    ("tests/plugins/wrong_returns.py", ["--system", "softmax"],
     "grads['W1'] (dL/dW1) has shape (24, 16); expected (16, 24)"),
], ids=["not provided", "wrong shape"])
def test_what_cannot_be_checked_exits_2_saying_what_was_expected(capsys, impl, argv, message):
    code, out, err = _run(capsys, "--impl", ROOT / impl, "--dims", "16,24,5", "--batch", "4", *argv)
    assert code == 2 and message in err, out + err
