"""Write a benchmark's table between its markers in a docs file (a new section with ``heading`` if absent)."""

from __future__ import annotations

from pathlib import Path


def write_between(path: Path, begin: str, end: str, body: str, heading: str) -> None:
    doc = path.read_text(encoding="utf-8") if path.exists() else ""
    if begin not in doc:
        doc = doc.rstrip("\n") + f"\n\n{heading}\n\n{begin}\n{end}\n"
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{begin}\n{body}\n{end}{tail}", encoding="utf-8")
