"""Every fixture record recomputed by the reference, at the printed precision.

A printed number is reproduced to the last digit the post shows, or it is an
erratum: then the reference must give ``document_gives`` instead and, where the
record names one, the stated alternative must reproduce the printed number.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import fixtures

RECORDS = fixtures.load()
ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "record", [pytest.param(r, id=r.id, marks=pytest.mark.system(fixtures.system_of(r))) for r in RECORDS])
def test_record(record):
    verdict = fixtures.check(record)
    assert verdict.ok, f"{record.id} ({record.source}): {verdict.message}\n  quote: {record.quote}"


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


needs_posts = pytest.mark.skipif(not fixtures.SEEDS.is_dir(), reason=f"the posts are not at {fixtures.SEEDS}")
INPUT_SETS = {(s.source, s.name): s for r in RECORDS for s in r.inputs.values()}


def _fragments_missing(quote: str, source: str) -> list[str]:
    """Fragments of ``quote`` (split at ' ... ') not found verbatim, up to whitespace, in the post."""
    text = _normalise((fixtures.SEEDS / source).read_text(encoding="utf-8"))
    fragments = (f.strip().strip('"') for f in _normalise(quote).split(" ... "))
    return [f for f in fragments if f not in text]


@needs_posts
@pytest.mark.parametrize("record", RECORDS, ids=[r.id for r in RECORDS])
def test_quote_is_in_its_document(record):
    """Provenance: the quote of every record occurs in its source post."""
    missing = _fragments_missing(record.quote, record.source)
    assert not missing, f"{record.id}: quote fragments not found in {record.source}: {missing}"


@needs_posts
@pytest.mark.parametrize("key", [k for k, s in INPUT_SETS.items() if not s.synthetic],
                         ids=[f"{src[:3]}/{name}" for (src, name), s in INPUT_SETS.items() if not s.synthetic])
def test_input_quote_is_in_its_document(key):
    missing = _fragments_missing(INPUT_SETS[key].quote, key[0])
    assert not missing, f"input set {key[1]}: quote fragments not found in {key[0]}: {missing}"


@needs_posts
def test_every_document_has_records():
    docs = {p.name for p in fixtures.SEEDS.glob("*.txt")}
    covered = {r.source for r in RECORDS}
    assert docs <= covered, f"posts without fixture records: {sorted(docs - covered)}"


def _long_printed_tokens():
    """Printed numbers with 5 or more significant digits: too specific to occur by chance."""
    tokens = set()
    for r in RECORDS:
        for values in (r.printed, r.document_gives):
            for t in np.ravel(np.asarray(values if values is not None else [], dtype=object)):
                if fixtures.significant_digits(t) >= 5:
                    tokens.add(t.lstrip("-"))
    return tokens


def test_no_worked_example_number_in_code():
    """Worked-example numbers live only in fixtures/: code recomputes them, never types them."""
    tokens = _long_printed_tokens()
    assert tokens, "expected some long printed numbers in the fixtures"
    offenders = []
    for folder in ("reference", "oracles", "tests", "backprop_harness"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            offenders += [f"{path.relative_to(ROOT)}: {t}" for t in tokens if t in text]
    text = (ROOT / "conftest.py").read_text(encoding="utf-8")
    offenders += [f"conftest.py: {t}" for t in tokens if t in text]
    assert not offenders, "worked-example numbers typed into code:\n" + "\n".join(offenders)


def test_schema_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('document = "x.txt"\n[[record]]\nid = "x/1"\nkind = "printed"\nquote = "q"\n'
                   'recompute = "reference.manual:backprop"\nprinted = "0.125"\ndigits = 2\n')
    with pytest.raises(fixtures.FixtureError, match=r"digits 2 do not match .* \(3 significant digits\)"):
        fixtures.load(tmp_path)
    bad.write_text('document = "x.txt"\n[[record]]\nid = "x/1"\nkind = "guess"\nquote = "q"\n')
    with pytest.raises(fixtures.FixtureError, match="kind must be one of"):
        fixtures.load(tmp_path)


@pytest.mark.parametrize("token, digits", [("0.0014", 2), ("16.0", 3), ("-4.2e-08", 2), ("29", 2),
                                           ("0.1234567890123456", 16), ("-0.16", 2), ("1.500", 4)])
def test_significant_digits(token, digits):
    assert fixtures.significant_digits(token) == digits


def test_printed_precision_is_exact():
    assert fixtures.agrees_at_printed_precision(0.125, "0.12")[0]          # half-even
    assert not fixtures.agrees_at_printed_precision(0.1251, "0.12")[0]
    assert fixtures.agrees_at_printed_precision(0.1 + 0.2, "0.30000000000000004")[0]
    assert not fixtures.agrees_at_printed_precision(0.3, "0.30000000000000004")[0]
    ok, bad = fixtures.agrees_at_printed_precision([1.0, 2.0], [["1"], ["2"], ["3"]])
    assert not ok and fixtures.describe(bad) == "entry shape: printed 3 numbers, recomputed '2 numbers' -> a different count"
