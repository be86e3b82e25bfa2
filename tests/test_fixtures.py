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
    assert verdict.ok, f"{record.id} ({record.post}): {verdict.message}\n  quote: {record.quote}"


# --- provenance: every quote is in its post ------------------------------------------------------
# The posts' text is not part of the harness (fixtures.SEEDS, beside the clone). With it, each
# post is one test that checks every quote taken from it; without it, one test is skipped,
# saying so, in place of a skip per quote.

POSTS = {post.document: post for post in fixtures.posts()}


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _quotes(document: str) -> list[tuple[str, str]]:
    """(what, quote) for every quote fixtures/ takes from the post ``document``: the records'
    by id, then the input sets' by name (a set from another post's file is that post's)."""
    quotes = [(f"record {r.id}", r.quote) for r in RECORDS if r.source == document]
    sets = {(s.name, s.quote) for r in RECORDS for s in r.inputs.values() if s.source == document and not s.synthetic}
    return quotes + [(f"input set {name}", quote) for name, quote in sorted(sets)]


def _fragments_missing(quote: str, text: str) -> list[str]:
    """Fragments of ``quote`` (split at ' ... ') not found verbatim, up to whitespace, in ``text``."""
    fragments = (f.strip().strip('"') for f in _normalise(quote).split(" ... "))
    return [f for f in fragments if f not in text]


def _post_params():
    if not fixtures.SEEDS.is_dir():
        return [pytest.param(None, id="posts", marks=pytest.mark.skip(
            reason=f"the posts are not at {fixtures.SEEDS}: their {sum(len(_quotes(d)) for d in POSTS)} quotes are "
                   f"not checked (the harness does not need them; docs/posts.md says where they come from)"))]
    files = {p.name for p in fixtures.SEEDS.glob("*.txt")}
    return [pytest.param(d, id=Path(d).stem[:3]) for d in sorted(files | set(POSTS))]


@pytest.mark.parametrize("document", _post_params())
def test_quotes_are_in_their_post(document):
    """Provenance: the post has a fixture file whose title (and author, url) are the post's own,
    and every quote taken from it occurs in it; a missing one fails naming its record."""
    post = POSTS.get(document)
    assert post is not None, f"the post {document} in {fixtures.SEEDS} has no fixture file (fixtures/*.toml)"
    path = fixtures.SEEDS / document
    assert path.is_file(), f"{post}: its text {document} is not in {fixtures.SEEDS}"
    text = _normalise(path.read_text(encoding="utf-8"))
    named = [(key, value) for key, value in (("title", post.title), ("author", post.author), ("url", post.url))
             if value and value not in text]
    missing = [(what, fragments) for what, quote in _quotes(document)
               if (fragments := _fragments_missing(quote, text))]
    assert not named and not missing, "\n".join(
        [f"{post}: not found in the post:"] + [f"  its {key} {value!r}" for key, value in named]
        + [f"  {what}: quote fragments {fragments}" for what, fragments in missing])


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


HEAD = 'document = "x.txt"\ntitle = "A post"\n'


def test_schema_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(HEAD + '[[record]]\nid = "x/1"\nkind = "printed"\nquote = "q"\n'
                   'recompute = "reference.manual:backprop"\nprinted = "0.125"\ndigits = 2\n')
    with pytest.raises(fixtures.FixtureError, match=r"digits 2 do not match .* \(3 significant digits\)"):
        fixtures.load(tmp_path)
    bad.write_text(HEAD + '[[record]]\nid = "x/1"\nkind = "guess"\nquote = "q"\n')
    with pytest.raises(fixtures.FixtureError, match="kind must be one of"):
        fixtures.load(tmp_path)


@pytest.mark.parametrize("head, message", [
    ('document = "x.txt"\n', r"bad.toml: missing top-level 'title' \(the post's title"),
    ('title = "A post"\n', r"bad.toml: missing top-level 'document' \(the post's file name\)"),
    (HEAD + 'author = ""\n', r"'author' must be a non-empty string; leave it out where the post gives none"),
    (HEAD + 'url = "example.org/post"\n', r"url must be an http\(s\) address, got 'example.org/post'"),
    (HEAD + 'authors = ["A. Writer"]\n', r"unknown top-level keys \['authors'\]"),
    (HEAD + '[inputs.a]\nquote = "q"\nvalues = {}\nsource = "y.txt"\n',
     r"input set a: source 'y.txt' is not the document of any fixture file; known: \['x.txt'\]"),
])
def test_post_fields_are_checked(tmp_path, head, message):
    """A fixture file names its post: the file, the title, and an author and address only as
    non-empty strings (left out where the post gives none)."""
    (tmp_path / "bad.toml").write_text(head)
    with pytest.raises(fixtures.FixtureError, match=message):
        fixtures.load(tmp_path)


def test_records_name_their_post():
    """Every record and input set carries its post, and a message cites it by title (and author
    where the post names one), never by the post's file name, which a user does not have."""
    posts = fixtures.posts()
    assert len(posts) == 4 and all(p.title for p in posts)
    for record in RECORDS:
        assert record.post.document == record.source
        for s in record.inputs.values():
            assert s.post.document == s.source
    assert str(fixtures.Post("x.txt", "A post")) == '"A post"'
    assert str(fixtures.Post("x.txt", "A post", "A. Writer", "https://example.org/p")) == \
        '"A post" by A. Writer (https://example.org/p)'
    assert all(p.document not in str(p) for p in posts)


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
    assert not ok
    assert fixtures.describe(bad) == "entry shape: printed 3 numbers, recomputed '2 numbers' -> a different count"


def test_the_fixtures_know_the_systems_the_harness_checks():
    from backprop_harness.protocol import SYSTEMS
    assert fixtures.SYSTEMS == SYSTEMS
