"""The HTML report (``--report-html``, backprop_harness/report/): render on
hand-built conformance documents, read back as a browser's parser reads it, and one
end-to-end run: the harness on a buggy implementation, its page rendered by
headless Chromium (screenshot and DOM).
"""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from backprop_harness import write_atomically
from backprop_harness.protocol import CHECKS, SYSTEMS
from backprop_harness.record import TensorDiff, decode_array
from backprop_harness.report import heatmap, page as report_page
from backprop_harness.report.heatmap import NONFINITE
from backprop_harness.report.page import MAX_DETAILED, MAX_PLOTTED, render


def write(doc, path):
    return write_atomically(Path(path), render(doc))

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
EVIL = '<script>alert("owned")</script>'
WORDS = "weight_not_transposed: the error is propagated back through W instead of W^T (in dL/dW1)"


# ---------------------------------------------------------------- documents

def tensor(a) -> dict:
    """An array as the report carries it: shape and row-major data, non-finite as strings."""
    a = np.asarray(a, dtype=float)
    return {"shape": list(a.shape), "data": [v if np.isfinite(v) else str(v) for v in a.ravel().tolist()]}


def failure(test="tests/test_conformance.py::test_agrees_with_every_oracle[mlp_gradients-conditioned]",
            check="oracles", params=(), atol=1e-12, loss=(0.5, 0.5), case="MLPCase", fn="mlp_gradients",
            diagnosis=("weight_not_transposed", WORDS), message="mlp_gradients: MLPCase (IMPL vs TORCH64)\n"
            "Mismatched elements: 1 / 4 (25%)", reproducer="import numpy as np\nprint('reproduced')") -> dict:
    """One entry of ``systems.S.failures``; params: (name, expected, received or None)."""
    gradients = {"atol": atol, "case": case, "fn": fn, "loss": {"expected": loss[0], "received": loss[1]},
                 "parameters": [{"name": n, "expected": tensor(e), "received": None if r is None else tensor(r)}
                                for n, e, r in params]} if params else None
    return {"test": test, "check": check, "message": message, "reproducer": reproducer, "gradients": gradients,
            "diagnosis": {"codes": [diagnosis[0]], "words": diagnosis[1]} if diagnosis else None}


def document(failures: dict | None = None, passing=("mlp",)) -> dict:
    """A conformance document (docs/conformance-schema.md): the systems in ``failures``
    fail with those failures, those in ``passing`` pass, the others are not provided."""
    failures = failures or {}
    systems = {}
    for s in SYSTEMS:
        if s in failures:
            checks = {}
            for f in failures[s]:
                checks.setdefault(f["check"], {"passed": 1, "failed": 0})["failed"] += 1
            codes = sorted({c for f in failures[s] if f.get("diagnosis") for c in f["diagnosis"]["codes"]})
            systems[s] = {"status": "fail", "checks": checks, "diagnosis": codes or ["unknown"],
                          "first_failure": {"test": failures[s][0]["test"], "check": failures[s][0]["check"],
                                            "message": failures[s][0]["message"].splitlines()[0]},
                          "diagnoses": [], "failures": failures[s]}
        elif s in passing:
            systems[s] = {"status": "pass", "checks": {c: {"passed": 3} for c in CHECKS}, "first_failure": None,
                          "diagnosis": None, "diagnoses": [], "failures": []}
        else:
            systems[s] = {"status": "not provided", "checks": {c: {"not provided": 2} for c in CHECKS},
                          "first_failure": None, "diagnosis": None, "diagnoses": [], "failures": []}
    failed = any(v["status"] == "fail" for v in systems.values())
    return {"schema": "backprop-harness/conformance/1",
            "implementation": {"spec": "student.py", "label": "/home/student/student.py",
                               "file": "/home/student/student.py", "version": "0.3", "provides": ["mlp_gradients"],
                               "load_error": None},
            "generated": "2026-11-23T01:49:28+00:00", "hypothesis_profile": "ci",
            "oracles": ["torch64", "complex_step"], "systems": systems, "fixtures_sha256": "0" * 64,
            "fixtures_unchanged": True, "fixture_changes": [], "exit_status": 1 if failed else 0}


# ---------------------------------------------------------------- reading a page back

class Page(HTMLParser):
    """A rendered page as a browser's tokenizer sees it: its tags with their
    attributes, its text (entities decoded), and the contents of its scripts."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.source, self.tags, self.chunks, self.scripts = page, [], [], []
        self._in_script = self._in_style = False
        self.feed(page)
        self.close()
        self.text = "".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script, self._in_style = tag == "script", tag == "style"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = self._in_style = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        elif not self._in_style:
            self.chunks.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]

    def images(self) -> list[np.ndarray]:
        """Every <img> decoded (RGBA floats)."""
        from matplotlib.image import imread
        prefix = "data:image/png;base64,"
        return [imread(io.BytesIO(base64.b64decode(a["src"][len(prefix):])), format="png") for a in self.all("img")]


def rendered(doc: dict) -> Page:
    """render(doc), checked to be self-contained, as a parsed Page."""
    page = Page(render(doc))
    assert_self_contained(page)
    return page


def assert_self_contained(page: Page):
    """Nothing the page refers to lies outside it: no URL at all, every image a PNG
    data URI, every link an anchor within the page, only the page's own script, and
    a Content-Security-Policy that forbids loading anything."""
    assert "http://" not in page.source and "https://" not in page.source
    assert "url(" not in page.source and "@import" not in page.source
    for tag, attrs in page.tags:
        assert tag not in ("link", "iframe", "object", "embed", "base", "frame"), tag
        assert "srcset" not in attrs and "background" not in attrs
        if "src" in attrs:
            assert tag == "img" and attrs["src"].startswith("data:image/png;base64,"), (tag, attrs["src"][:40])
        if "href" in attrs:
            assert attrs["href"].startswith("#"), attrs["href"]
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
    for attrs in page.all("img"):
        assert base64.b64decode(attrs["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    policy = [a["content"] for a in page.all("meta") if a.get("http-equiv") == "Content-Security-Policy"]
    assert policy and "default-src 'none'" in policy[0] and "img-src data:" in policy[0]
    assert page.scripts == [report_page.SCRIPT]


def near(image: np.ndarray, colour, tol=0.02) -> int:
    """How many pixels of the image have this colour."""
    return int(np.count_nonzero(np.all(np.abs(image[..., :3] - np.asarray(colour)) <= tol, axis=-1)))


# ---------------------------------------------------------------- the page

def test_the_title_and_the_heading_give_one_verdict():
    for doc in ({"exit_status": 0, "systems": {"mlp": {"status": "fail"}}},
                {"implementation": {"load_error": "boom"}},
                {"exit_status": 1, "systems": {"mlp": {"status": "pass"}}}):
        page = render(doc)
        assert "<title>FAIL" in page and "<h1>FAIL" in page and "PASS" not in page.split("</h1>")[0], doc
    assert "<title>PASS" in render({"exit_status": 0, "systems": {"mlp": {"status": "pass"}}})


def test_pass_only_document_shows_the_verdicts_and_no_failure():
    page = rendered(document(passing=("mlp", "softmax")))
    assert "<h1>PASS" in page.source
    assert page.all("img") == [] and "failure" not in {a.get("class") for a in page.all("article")}
    for s in SYSTEMS:
        assert s in page.text
    assert "3/3 passed" in page.text and "not provided" in page.text
    for field in ("/home/student/student.py", "0.3", "2026-11-23T01:49:28+00:00", "ci", "torch64, complex_step",
                  "0 (every provided system passed)", "unchanged"):
        assert field in page.text, field


def test_everything_from_the_implementation_or_a_message_is_escaped():
    f = failure(test=f"tests/test_conformance.py::test_x[{EVIL}]", check=EVIL,
                params=[(EVIL, [[1.0, 2.0]], [[1.0, 3.0]])], message=f"IMPL printed {EVIL}\n& more",
                reproducer=f"print('{EVIL}')", diagnosis=(EVIL, f"{EVIL}: words"), case=EVIL, fn=EVIL)
    doc = document({"mlp": [f]})
    doc["implementation"].update(label=EVIL, file=EVIL, version=EVIL, load_error=f"Traceback\n{EVIL}",
                                 provides=[EVIL])
    doc.update(generated=EVIL, hypothesis_profile=EVIL, oracles=[EVIL], fixtures_unchanged=False,
               fixture_changes=[EVIL])
    doc["systems"]["mlp"]["diagnosis"] = [EVIL]
    # a system's name lands in attributes (its anchors, and the link from a failure to an earlier
    # one with the same gradients): one that would close the attribute
    doc["systems"][f'x"><img src=x onerror=alert(1)>{EVIL}'] = {**doc["systems"]["mlp"], "failures": [f, f]}
    page = rendered(doc)                       # one script, the page's own; no foreign attribute or tag
    assert EVIL not in page.source and "<img src=x" not in page.source
    # shown as text, not dropped: header, load error, test id, check, diagnosis, message, reproducer, ...
    assert page.text.count(EVIL) >= 12
    assert f"print('{EVIL}')" in page.text and f"IMPL printed {EVIL}" in page.text


def test_diagnosis_comes_first_in_words_and_codes():
    page = rendered(document({"mlp": [failure(params=[("W1", [[1.0, 2.0]], [[1.0, 3.0]])])]}))
    text = page.text
    assert WORDS in text and text.index(WORDS) < text.index("Failure message") < text.index("Reproducer")
    assert '<code class="chip">weight_not_transposed</code>' in page.source
    # the system's diagnosis in words, from backprop_harness.diagnosis.CODES
    assert "the error is propagated back through W instead of W^T" in text.split(WORDS)[0]


def test_a_failure_without_gradients_still_shows_its_message_and_diagnosis():
    crash = failure(check="determinism", diagnosis=None, reproducer=None,
                    message="Value: the worker crashed (signal 11) in backward()\nsee the log")
    page = rendered(document({"scalar_graph": [crash]}))
    assert "the worker crashed (signal 11) in backward()\nsee the log" in page.text
    assert "No diagnosis for this failure" in page.text and page.all("img") == []


def test_non_finite_and_missing_received_values_are_shown_not_dropped():
    f = failure(params=[("W1", [[1.0, 2.0], [3.0, 4.0]], [["nan", 2.0], ["inf", 4.5]]),
                        ("b1", [0.5, 0.25], None), ("W2", [[1.0]], [["-inf"]])], loss=(0.5, "nan"))
    page = rendered(document({"mlp": [f]}))
    text = page.text
    assert "received: not a numeric array" in text                   # b1
    assert "3 of 4 (2 non-finite)" in text                          # W1: nan, inf and 4.5 for 4.0
    assert "loss: expected 0.5, received nan not a finite number" in text
    worst = text.split("Worst entries")[1]
    # non-finite entries first, each with both values; then the finite error
    assert worst.index("dL/dW1[0, 0]") < worst.index("dL/dW1[1, 1]") and "dL/dW2[0, 0]" in worst
    assert "nan" in worst and "-inf" in worst and "4.5" in worst
    (image,) = page.images()
    assert near(image, NONFINITE) > 500                             # three purple cells and the legend


def test_a_transposed_received_tensor_is_named_and_drawn_transposed_back():
    expected = np.arange(6.0).reshape(2, 3) / 7
    wrong = expected.T.copy()
    wrong[2, 1] += 1e-3                                             # the entry [1, 2] of the expected layout
    page = rendered(document({"mlp": [failure(params=[("W1", expected, expected.T)]),
                                      failure(params=[("W1", expected, wrong)])]}))
    text = page.text
    assert text.count("received shape (3, 2), expected (2, 3): exactly the transpose") == 2
    first, second = text.split("Failure message")[:2]
    assert "0 of 6" in first and "Every entry shown is within tolerance" in first
    assert "1 of 6" in second and "dL/dW1[1, 2]" in second.split("Worst entries")[1]
    assert len(page.all("img")) == 2


def test_a_tensor_of_another_size_is_reported_not_drawn():
    f = failure(params=[("W1", [[1.0, 2.0, 3.0]], [[1.0, 2.0]]), ("b1", [1.0, 2.0, 3.0], [[1.0, 2.0, 4.0]])])
    page = rendered(document({"mlp": [f]}))
    assert "received shape (1, 2), expected (1, 3): cannot be compared entry by entry" in page.text
    assert "received shape (1, 3), expected (3,): the same number of entries, compared in row-major order" \
        in page.text
    assert "dL/db1[2]" in page.text.split("Worst entries")[1] and len(page.all("img")) == 1


def test_scalar_graph_leaves_are_drawn_together_in_one_row():
    f = failure(test="tests/test_conformance.py::test_agrees_with_every_oracle[Value-conditioned]",
                case="GraphCase", fn="Value", loss=(0.0, 0.0),
                params=[("x0", 2.0, 1.0), ("x1", -0.5, -0.5), ("x2", 0.25, None)],
                diagnosis=("branch_overwritten", "branch_overwritten: a value used more than once gets its gradient "
                           "overwritten (=) instead of accumulated (+=) (in dL/dx0)"))
    page = rendered(document({"scalar_graph": [f]}))
    assert "output: expected 0.0, received 0.0 identical, within tolerance" in page.text
    assert "dL/dx0" in page.text.split("Worst entries")[1]
    grads = f["gradients"]["parameters"]
    from backprop_harness.record import Gradients
    tensors = [TensorDiff(p["name"], decode_array(p["expected"]), decode_array(p["received"]), 1e-12) for p in grads]
    (panel,) = heatmap.panels(tensors, Gradients(1e-12, "GraphCase", "Value", tensors).worst())
    assert panel.col_labels == ["x0", "x1", "x2"] and panel.ratio.shape == (1, 3) and panel.labelled
    assert np.isnan(panel.ratio[0, 2])                              # x2: no value received, drawn hatched
    (image,) = page.images()
    assert image.shape[0] < 400 and image.shape[1] < 1000


def test_a_large_tensor_stays_small_and_its_worst_entries_are_named():
    rng = np.random.default_rng(7)
    expected = rng.normal(size=(512, 256))
    received = expected.copy()
    received[100, 17] += 1e-3
    received[400, 200] = np.nan
    page = rendered(document({"mlp": [failure(params=[("W1", expected, received)], atol=1e-11)]}))
    (image,) = page.images()
    png_bytes = len(page.all("img")[0]["src"])
    assert image.shape[0] * image.shape[1] < 1000 * 800 and png_bytes < 150_000
    worst = page.text.split("Worst entries")[1]
    assert worst.index("dL/dW1[400, 200]") < worst.index("dL/dW1[100, 17]")
    # a block is coloured by its worst entry: the one wrong entry among 131,072 survives pooling
    from backprop_harness.record import Gradients
    t = TensorDiff("W1", expected, received, 1e-11)
    (panel,) = heatmap.panels([t], Gradients(1e-11, "MLPCase", "mlp_gradients", [t]).worst())
    ratio, nonfinite, _ = heatmap.pool(panel)
    br, bc = panel.block
    assert br > 1 and ratio.shape == (-(-512 // br), -(-256 // bc))
    assert ratio[100 // br, 17 // bc] == pytest.approx(1e-3 / 1e-11, rel=1e-3) and nonfinite[400 // br, 200 // bc]
    assert np.count_nonzero((ratio > 1) & ~nonfinite) == 1 and np.count_nonzero(nonfinite) == 1


def test_many_failures_are_capped_and_the_cap_is_stated():
    rng = np.random.default_rng(0)
    failures = [failure(test=f"tests/test_conformance.py::test_case[{i}]", diagnosis=None, message=f"failure {i}",
                        params=[("W1", e := rng.normal(size=(3, 4)), e + 0.01), ("b1", [0.0, 1.0, 2.0, 3.0],
                                                                                   [0.0, 1.0, 2.0, 3.5])])
                for i in range(MAX_DETAILED + 20)]
    page = rendered(document({"mlp": failures}))
    assert len(page.all("img")) == MAX_PLOTTED
    assert f"heat maps for the first {MAX_PLOTTED} distinct gradients" in page.text
    assert f"No heat map: the page draws the first {MAX_PLOTTED} distinct gradients" in page.text
    assert "20 more blocks" in page.text and f"test_case[{MAX_DETAILED + 19}]" in page.text
    assert len(page.source) < 2_000_000


def test_failures_with_the_same_gradients_share_one_heat_map():
    same = [("W1", [[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.5], [3.0, 4.0]])]
    causes = ("weight_not_transposed", "transposed", "sign_flipped")        # three blocks, one gradient
    page = rendered(document({"mlp": [failure(test=f"t::worked[{i}]", check="worked examples", params=same,
                                              diagnosis=(code, code)) for i, code in enumerate(causes)]}))
    assert len(page.all("img")) == 1 and page.text.count("The same gradients as") == 2
    assert page.all("a")[-1]["href"] == "#f-mlp-1"


def test_the_same_failure_in_several_tests_is_one_block_with_one_reproducer():
    """The same diagnosis and the same wrong tensors: one block, its count, the other tests
    listed, one reproducer; another wrong tensor is a block of its own."""
    one = [("W1", [[1.0, 2.0]], [[1.0, 2.5]]), ("b1", [1.0], [1.0])]
    other = [("W1", [[1.0, 2.0]], [[1.0, 2.0]]), ("b1", [1.0], [3.0])]
    failures = [failure(test=f"t::case[{i}]", params=one, reproducer=f"print({i})") for i in range(5)]
    failures.append(failure(test="t::case[5]", params=other, reproducer="print(5)"))
    page = rendered(document({"mlp": failures}))
    assert "6 failures in 2 blocks" in page.text
    assert "× 5" in page.text and "4 more failures with the same diagnosis and the same wrong tensors" in page.text
    assert page.source.count('class="repro"') == 2
    assert "print(0)" in page.source and "print(5)" in page.source and "print(3)" not in page.source


def test_render_copes_with_sparse_and_odd_documents():
    for doc in ({}, {"systems": {}}, {"systems": {"mlp": {"status": "fail"}}},
                {"systems": {"mlp": {"status": "fail", "checks": {"oracles": {"failed": 2}},
                                     "failures": [{"test": "t"}, {}, {"gradients": {"parameters": [
                                         {"name": "W1", "expected": {"shape": [2, 2], "data": [1.0]},
                                          "received": {"shape": [2, 2], "data": ["x", 1, 2, 3]}},
                                         {"name": "b0", "expected": {"shape": [0], "data": []},
                                          "received": {"shape": [0], "data": []}},
                                         {"name": "b1", "expected": {"shape": [2], "data": [1.0, 2.0]},
                                          "received": {"shape": [2], "data": [1.0, 2.0]}}]}}]}}},
                document({"mlp": [failure(params=[("W1", [[1.0]], [[2.0]])], atol=0.0)]})):
        page = rendered(doc)
        assert "</main>" in page.source
        assert "could not be" not in page.source       # no failure hidden behind a "could not be shown"


def test_a_lone_surrogate_from_the_implementation_does_not_stop_the_page(tmp_path):
    doc = json.loads(json.dumps(document({"mlp": [failure(message="IMPL printed \ud800 and went on")]})))
    assert "\ud800" in doc["systems"]["mlp"]["failures"][0]["message"]
    path = write(doc, tmp_path / "report.html")
    assert "IMPL printed \ufffd" in path.read_text(encoding="utf-8")


def test_write_replaces_the_file_whole(tmp_path):
    doc = document({"mlp": [failure(params=[("W1", [[1.0]], [[2.0]])])]})
    target = tmp_path / "report.html"
    target.write_text("an older report")
    assert write(doc, target) == target
    assert target.read_text(encoding="utf-8") == render(doc)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# ---------------------------------------------------------------- end to end, in Chromium

def solid_squares(mask: np.ndarray, k: int) -> int:
    """How many k x k windows of the mask are entirely true (a summed-area table)."""
    s = np.pad(mask.astype(np.int64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return int(np.count_nonzero(s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k] == k * k))


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium with a fresh profile, kept off the network (closed here anyway)."""
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_end_to_end_page_of_a_buggy_implementation_in_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: apt-get install -y chromium "
                    f"(Debian's package) to run this test")
    run = tmp_path / "run"
    run.mkdir()
    env = {**os.environ, "HYPOTHESIS_PROFILE": "smoke"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)       # pytest's cache of rewritten plugin modules
    env.pop("BACKPROP_IMPL", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "backprop_harness.cli", "test",
           str(ROOT / "zoo" / "buggy" / "mlp_weight_not_transposed.py"), "--html", "report.html",
           "--json", "report.json", "--", "-q", "-n", "0"]
    harness = subprocess.run(cmd, cwd=run, env=env, capture_output=True, text=True, timeout=300)
    assert harness.returncode == 1, harness.stdout[-3000:] + harness.stderr[-3000:]
    page = run / "report.html"
    assert page.exists(), harness.stdout[-3000:]
    assert_self_contained(Page(page.read_text(encoding="utf-8")))

    shot = tmp_path / "page.png"
    chromium(tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2400", page.as_uri())
    assert shot.exists(), "Chromium wrote no screenshot"
    from matplotlib.image import imread
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    values, counts = np.unique(pixels.reshape(-1, 3).round(2), axis=0, return_counts=True)
    background = values[counts.argmax()]
    share = np.mean(np.any(np.abs(pixels - background) > 0.05, axis=-1))
    assert pixels.std() > 0.05 and share > 0.05, (pixels.std(), share)
    # the heat map was decoded and drawn: its cells beyond tolerance hold solid squares of warm red,
    # which nothing else on the page has (its red text and borders are a few pixels thick; the
    # page without its images has no 10 x 10 square of this colour)
    warm = np.all([pixels[..., 0] > 0.35, pixels[..., 1] < 0.3, pixels[..., 2] < 0.25,
                   pixels[..., 0] - pixels[..., 2] > 0.3], axis=0)
    assert solid_squares(warm, 12) > 0, "no heat map cell in the screenshot"

    dom = chromium(tmp_path / "profile-dom", "--dump-dom", page.as_uri()).stdout
    assert "weight_not_transposed" in dom
    assert "the error is propagated back through W instead of W^T" in dom
    assert dom.count("<img") >= 1 and "<h1>FAIL" in dom
    assert 'data-copy="ready"' in dom, "the page's script did not run (blocked by its own policy?)"


def test_a_failure_s_details_are_plain_json_whatever_the_implementation_returned():
    """record.Gradients.measured: a loss returned as a 0-d array, NaN and infinity, a list
    of lists, a string and a missing tensor all become JSON that render draws (a 0-d
    loss once made json.dumps fail, and the failure lost its details)."""
    from backprop_harness import mistakes
    from backprop_harness.record import Gradients
    from oracles.cases import MLPCase
    case = MLPCase(np.zeros((1, 1)), np.zeros((1, 2)), [np.zeros((1, 2))], [np.zeros(2)], "sigmoid", "sse", "row")
    right = mistakes.right(case)
    received = {"W1": [[np.nan], [np.inf]], "b1": "not numbers"}
    detail = Gradients.measured(case, "mlp_gradients", right, received, np.array(0.5), 1e-12).to_json()
    text = json.dumps(detail, allow_nan=False)
    back = json.loads(text)
    assert back["loss"] == {"expected": right.loss, "received": 0.5, "atol": None}
    params = {p["name"]: p for p in back["parameters"]}
    assert params["W1"]["received"] == {"shape": [2, 1], "data": ["nan", "inf"]}
    assert params["b1"]["received"] is None
    doc = {"systems": {"mlp": {"status": "fail", "failures": [{"test": "t", "check": "oracles", "message": "m",
                                                               "gradients": back}]}}}
    assert "dL/dW1" in render(doc)


def test_a_determinism_failure_draws_the_answer_that_is_wrong():
    """Right after other calls but wrong the first time (or the reverse): the page draws
    the wrong one and says which it is."""
    from backprop_harness import mistakes
    from backprop_harness.conformance.explain import determinism_gradients
    from backprop_harness.plugin import Evidence
    from oracles.cases import MLPCase
    case = MLPCase(np.zeros((1, 1)), np.zeros((1, 2)), [np.zeros((1, 2))], [np.zeros(2)], "sigmoid", "sse", "row")
    right = mistakes.right(case)
    wrong = {k: 2 * v + 1 for k, v in right.grads.items()}
    first_wrong = determinism_gradients(Evidence("mlp_gradients", case, right.grads, right.loss, first=wrong),
                                        right, 1e-12).to_json()
    assert "first answer" in first_wrong["received_is"]
    assert first_wrong["parameters"][0]["received"]["data"] == np.ravel(wrong["W1"]).tolist()
    later_wrong = determinism_gradients(Evidence("mlp_gradients", case, wrong, right.loss, first=right.grads),
                                        right, 1e-12).to_json()
    assert "after other calls" in later_wrong["received_is"]
    page = render({"systems": {"mlp": {"status": "fail", "failures": [
        {"test": "t", "check": "determinism", "message": "m", "gradients": first_wrong}]}}})
    assert "its first answer to this call" in page and "Every entry shown is within tolerance" not in page
