"""The documentation's relative links resolve: every file they name exists, and every
``#anchor`` names a heading of the file it points into (GitHub's anchors)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", ROOT / "fixtures" / "README.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")           # links and images


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set:
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M)}


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` (outside code blocks) that name no file or no heading."""
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):         # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading #{fragment} in {dest.name}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_resolve(page):
    broken = broken_links(page)
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n  " + "\n  ".join(broken)


def test_a_broken_link_is_reported(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A title\n\n[ok](page.md#a-title) [gone](nowhere.md) [bad](page.md#no-such)\n"
                    "```\n[in code](ignored.md)\n```\n![image](also-missing.png) [web](https://example.org)\n")
    assert broken_links(page) == ["nowhere.md: no such file", "page.md#no-such: no heading #no-such in page.md",
                                  "also-missing.png: no such file"]


def test_readme_is_a_front_door():
    """The README stays short and says what is, not how it came to be: no commit ids, issue
    numbers or post file names (a user has neither the history nor the posts' files)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150, "README.md: over 150 lines; move the detail into docs/"
    found = [m.group(0) for pattern in (r"\b(?:issue|PR|pull request)\s*#?\d+", r"\bcommit\s+[0-9a-f]{7,40}\b",
                                        r"\b\d{3}_[0-9a-f]{16}\.txt\b", r"shared/seeds")
             for m in re.finditer(pattern, text, re.I)]
    assert not found, f"README.md names history or a post's file: {found}"
