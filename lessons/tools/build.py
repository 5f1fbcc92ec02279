"""Write each lesson's notebook from its text source, and draw the lessons' static diagrams.

    python lessons/tools/build.py            # lessons/NN-*.md -> lessons/NN-*.ipynb, diagrams/*.dot -> *.svg
    python lessons/tools/build.py --check    # say what is out of date and exit 1, change nothing

A lesson is written in lessons/NN-name.md (MyST Markdown, jupytext's "md:myst" format: Markdown as
it is, code cells in ```{code-cell} fences). The .ipynb beside it is the pair learners open; it is
written from the .md, valid nbformat v4, with no outputs and with cell ids taken from each cell's
text (so they do not churn), and the .md's modification time. With jupytext installed (the `test`
extras), JupyterLab opens either file as the notebook and saves both (lessons/jupytext.toml pairs
them); run this script afterwards all the same.

A diagram in a lesson's Markdown is lessons/diagrams/NAME.dot (Graphviz), drawn here to NAME.svg
and shown with ![...](diagrams/NAME.svg). The SVG records the hash of the .dot it was drawn from.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

import jupytext
import nbformat

LESSONS = Path(__file__).resolve().parent.parent
DIAGRAMS = LESSONS / "diagrams"
TEXT_FORMAT = "md:myst"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
SOURCE_MARK = re.compile(r"<!-- drawn from (\S+) sha256:([0-9a-f]{64}) -->")


def lesson_sources() -> list[Path]:
    """The lessons' text sources: lessons/NN-name.md (README.md is not a lesson)."""
    return sorted(p for p in LESSONS.glob("*.md") if re.match(r"\d\d-", p.name))


def notebook_from_source(source: Path) -> nbformat.NotebookNode:
    """The notebook a lesson's .md describes: no outputs, python3 kernelspec, ids from the cells' text."""
    nb = jupytext.read(source, fmt=TEXT_FORMAT)
    nb.metadata = {  # no jupytext metadata: lessons/jupytext.toml pairs the two files
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
    }
    seen: dict[str, int] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        digest = hashlib.sha256(f"{cell.cell_type}\0{cell.source}".encode()).hexdigest()[:10]
        seen[digest] = seen.get(digest, 0) + 1
        cell["id"] = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    nbformat.validate(nb)
    return nb


def notebook_text(source: Path) -> str:
    text = nbformat.writes(notebook_from_source(source))
    return text if text.endswith("\n") else text + "\n"


def write_notebook(source: Path) -> Path:
    """Write the .ipynb of one lesson source; it gets the source's modification time, because
    jupytext in JupyterLab refuses to open a pair whose notebook is newer than its text."""
    target = source.with_suffix(".ipynb")
    target.write_text(notebook_text(source))
    stat = source.stat()
    os.utime(target, (stat.st_atime, stat.st_mtime))
    return target


def same_cells(a: nbformat.NotebookNode, b: nbformat.NotebookNode) -> list[str]:
    """How two notebooks' cells differ (type and text), as readable lines; empty when they agree."""
    problems = []
    if len(a.cells) != len(b.cells):
        problems.append(f"{len(a.cells)} cells against {len(b.cells)}")
    for i, (x, y) in enumerate(zip(a.cells, b.cells)):
        if x.cell_type != y.cell_type or x.source != y.source:
            first = next((line for line in x.source.splitlines() if line.strip()), "")[:70]
            problems.append(f"cell {i} ({x.cell_type}: {first!r}) differs")
    return problems


def svg_for(dot_file: Path) -> str:
    """The SVG of one static diagram, marked with the hash of its source."""
    import pygraphviz

    sys.path.insert(0, str(LESSONS.parent))
    from grader.diagram import render_svg

    text = dot_file.read_text()
    svg = render_svg(pygraphviz.AGraph(string=text))
    mark = f"<!-- drawn from {dot_file.name} sha256:{hashlib.sha256(text.encode()).hexdigest()} -->\n"
    head, sep, rest = svg.partition("<svg")
    return head + mark + sep + rest


def stale_diagrams() -> list[str]:
    """Static diagrams whose SVG is missing or was drawn from another version of the .dot."""
    out = []
    for dot_file in sorted(DIAGRAMS.glob("*.dot")):
        svg = dot_file.with_suffix(".svg")
        if not svg.exists():
            out.append(f"{svg.relative_to(LESSONS)} is missing")
            continue
        m = SOURCE_MARK.search(svg.read_text())
        digest = hashlib.sha256(dot_file.read_text().encode()).hexdigest()
        if not m or m.group(2) != digest:
            out.append(f"{svg.relative_to(LESSONS)} was not drawn from the current {dot_file.name}")
    return out


def stale_notebooks() -> list[str]:
    """Lessons whose .ipynb is missing or does not hold the cells of its .md."""
    out = []
    for source in lesson_sources():
        target = source.with_suffix(".ipynb")
        if not target.exists():
            out.append(f"{target.name} is missing")
            continue
        problems = same_cells(notebook_from_source(source), nbformat.read(target, as_version=4))
        if problems:
            out.append(f"{target.name} is not {source.name}: " + "; ".join(problems[:3]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say what is out of date (exit 1 if anything is)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_notebooks() + stale_diagrams()
        for line in stale:
            print(line)
        if stale:
            print("run: python lessons/tools/build.py")
        return 1 if stale else 0
    for source in lesson_sources():
        print(write_notebook(source).relative_to(LESSONS.parent))
    for dot_file in sorted(DIAGRAMS.glob("*.dot")):
        svg = dot_file.with_suffix(".svg")
        svg.write_text(svg_for(dot_file))
        print(svg.relative_to(LESSONS.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
