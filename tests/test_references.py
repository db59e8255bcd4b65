"""Every Markdown document the code, tests and benchmarks cite exists in this repository.

Docstrings and comments explain an IB quirk or a Delta pitfall by pointing at a document; a
pointer that leads outside the repository (a design note, a local path) helps no reader.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("plugins", "dags", "bench", "tests", "simulator")
CITED = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")


def _cited() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for name in CITED.findall(line):
                    found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{n}")
    return found


def _resolves(name: str, where: str) -> bool:
    """A cited name is a path from the repository root, or a bare name found in docs/ or
    beside the citing distribution (its README)."""
    if (ROOT / name).is_file():
        return True
    if "/" not in name and (ROOT / "docs" / name).is_file():
        return True
    top = where.split("/", 1)[0]
    return (ROOT / top / name).is_file()


def test_every_cited_document_is_in_the_repository() -> None:
    cited = _cited()
    assert "docs/storage.md" in cited  # the scan sees the citations
    missing = {
        name: places
        for name, places in cited.items()
        if not all(_resolves(name, p) for p in places)
    }
    assert missing == {}
