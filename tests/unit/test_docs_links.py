"""Links between README.md and docs/*.md point at files and headings that exist (GitHub's
heading anchors), so the migration guides can link rather than repeat."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's slugs: lower case, punctuation dropped, spaces to hyphens, -1 -2 for repeats."""
    found: set[str] = set()
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in found:
            n += 1
            candidate = f"{slug}-{n}"
        found.add(candidate)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: link to missing {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page.name}: no heading #{anchor} in {path}"


def test_readme_links_the_migration_guides() -> None:
    readme = (ROOT / "README.md").read_text()
    for guide in ("docs/migrate-from-emqx.md", "docs/migrate-from-ocpp2mqtt.md"):
        assert f"]({guide})" in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_merge_conflict_markers(page: Path) -> None:
    for marker in ("<<<<<<< ", "\n=======\n", ">>>>>>> "):
        assert marker not in page.read_text(), f"{page.name}: unresolved merge ({marker.strip()})"
