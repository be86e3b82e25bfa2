"""The class page (``OUTDIR/index.html``, backprop_harness/class_page.py): rendered from
records as grade keeps them, read back as a browser's parser reads it, and drawn by
headless Chromium (skipped, with the reason, where it is not installed)."""
from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pytest

from backprop_harness import assignment, class_page, grade
from backprop_harness.protocol import CHECKS, SYSTEMS
from tests.test_report_html import CHROMIUM, chromium

EVIL = '<script>alert("owned")</script>'
COURSE = assignment.parse({"title": "HW 2", "systems": {"manual_222": {"weight": 2}, "mlp": {"weight": 4}}},
                          "hw2.toml")


def _record(name, verdicts, codes=("sign_flipped",), status="graded", note=None, report=True):
    systems = {s: {"status": v, "diagnosis": list(codes) if v == "fail" else [], "message": None,
                   "checks": {c: {"passed": 1, "failed": 1} if v == "fail" else {"passed": 2} for c in CHECKS}}
               for s, v in zip(SYSTEMS, verdicts)}
    record = {"name": name, "status": status, "note": note, "systems": systems, "seconds": 3.2, "entry": f"{name}.py",
              "files": {"report": "report.html"} if report else {}}
    return grade.scored(record, COURSE)


RECORDS = [_record("alice", ("not provided", "pass", "pass", "not provided")),
           _record("bob", ("not provided", "fail", "pass", "not provided")),
           _record("carol", ("not provided", "fail", "fail", "not provided"), codes=("sign_flipped", "scaled_2")),
           _record(EVIL, ("error",) * 4, status="load error", note=EVIL, report=False)]


class Page(HTMLParser):
    """The page's tags with their attributes and its text, as a browser's tokenizer reads them."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.source, self.tags, self.chunks, self._skip = page, [], [], False
        self.feed(page)
        self.close()
        self.text = "".join(self.chunks)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._skip = tag == "style"

    def handle_endtag(self, tag):
        self._skip = False

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)


def test_the_page_is_self_contained_and_escapes_what_submissions_name():
    page = Page(class_page.render(RECORDS, COURSE, {"graded_now": 4, "reused": 0}))
    assert "http://" not in page.source and "https://" not in page.source and "url(" not in page.source
    for tag, attrs in page.tags:
        assert tag not in ("script", "img", "link", "iframe", "object", "embed", "base"), tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if "href" in attrs:          # a report beside the page: relative, within the output folder
            assert attrs["href"].endswith("/report.html") and ":" not in attrs["href"] \
                and not attrs["href"].startswith(("/", "..")), attrs["href"]
    policy = [a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert policy and policy[0].startswith("default-src 'none'")
    assert EVIL in page.text and "<script" not in page.source      # shown as text, never as a tag
    assert [a["href"] for t, a in page.tags if t == "a"] == ["alice/report.html", "bob/report.html",
                                                             "carol/report.html"]


def test_the_page_shows_the_distribution_the_diagnoses_and_a_row_per_student():
    page = Page(class_page.render(RECORDS, COURSE))
    text = " ".join(c.strip() for c in page.chunks if c.strip())
    # scores: alice 6 (full marks), bob 1 + 4 = 5, carol 1 + 2 = 3, the load error 0
    assert [r["score"] for r in RECORDS] == [6.0, 5.0, 3.0, 0.0]
    bins = dict(class_page.bins(RECORDS, 6.0))
    assert bins["6 (full marks)"] == 1 and bins["4.8 – 5.4"] == 1 and bins["3 – 3.6"] == 1 and bins["0 – 0.6"] == 1
    assert sum(bins.values()) == len(RECORDS)
    assert "mean 3.50, median 4 of 6; 1 of 4 with full marks" in text
    # diagnoses by the number of submissions they were met in, the most common first
    assert text.index("2 manual_222 sign_flipped") < text.index("1 manual_222 scaled_2")
    assert "1 mlp sign_flipped" in text and "1 load error" in text
    assert "the gradient has the wrong sign" in text
    for r in RECORDS:
        assert r["name"] in page.text
    assert "softmax" not in text.split("Students × systems")[1]       # not asked by the assignment
    assert "fail 1/2 sign_flipped scaled_2" in text and "pass 4/4" in text


def test_write_replaces_the_page_whole(tmp_path):
    target = tmp_path / "index.html"
    target.write_text("an older page")
    class_page.write(target, RECORDS, COURSE)
    assert target.read_text(encoding="utf-8") == class_page.render(RECORDS, COURSE)
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


@pytest.mark.slow
def test_the_page_inchromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: apt-get install -y chromium "
                    f"(Debian's package) to run this test")
    page = class_page.write(tmp_path / "index.html", RECORDS, COURSE)
    shot = tmp_path / "page.png"
    chromium(tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1100,1500", page.as_uri())
    assert shot.exists(), "Chromium wrote no screenshot"
    from matplotlib.image import imread
    pixels = (imread(shot)[..., :3] * 255).round()

    def count(rgb) -> int:
        return int(np.count_nonzero(np.all(np.abs(pixels - np.asarray(rgb)) <= 2, axis=-1)))
    # the distribution's bars (#4f7cac), four of them, 14 px high; a failing cell's background (#ffebe9)
    assert count((0x4f, 0x7c, 0xac)) > 4 * 14 * 10, "no bar of the score distribution drawn"
    assert count((0xff, 0xeb, 0xe9)) > 1000, "no failing cell drawn"
    dom = chromium(tmp_path / "profile-dom", "--dump-dom", page.as_uri()).stdout
    assert "Most common diagnoses" in dom and "Students × systems" in dom and "HW 2" in dom
    assert 'href="carol/report.html"' in dom and "&lt;script&gt;" in dom


def test_the_diagnoses_table_keeps_the_most_common_and_counts_the_rest():
    many = [_record(f"s{i}", ("not provided", "fail", "not provided", "not provided"), codes=(f"code_{i:02d}",))
            for i in range(class_page.TOP_DIAGNOSES + 3)]
    many.append(_record("t", ("not provided", "fail", "not provided", "not provided"), codes=("code_05",)))
    page = Page(class_page.render(many, COURSE))
    text = " ".join(c.strip() for c in page.chunks if c.strip())
    assert text.index("2 manual_222 code_05") < text.index("1 manual_222 code_00")
    assert f"3 3 other diagnoses, met once or a few times each: manual_222 code_{class_page.TOP_DIAGNOSES:02d}" in text
