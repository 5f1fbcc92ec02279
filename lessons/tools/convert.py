"""Convert a lesson written in the old format (lessons/tools/lessonNN.py: NAME and a list CELLS of
md(...) and code(...)) to the lesson's text source lessons/NAME.md and its notebook lessons/NAME.ipynb.

    python lessons/tools/convert.py lessons/tools/lesson07.py

It writes both files, removes lessons/tools/lessonNN.py (the .md is the source from now on), and
says what is left to do by hand: predictions written as `prediction = {...: None}` plus
check_prediction(...) become predict("NAME", {...}) and a reveal cell with the answers in
lessons/answers/NAME.yaml (see lessons/README.md, "Predictions").
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import jupytext
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build import KERNELSPEC, LESSONS, TEXT_FORMAT, write_notebook  # noqa: E402


def _old_format_helpers() -> types.ModuleType:
    """The two helpers old lesson modules import (`from nbwrite import code, md`)."""
    helpers = types.ModuleType("nbwrite")
    helpers.md = lambda text: new_markdown_cell(text.strip("\n"))
    helpers.code = lambda text: new_code_cell(text.strip("\n"))
    return helpers


def convert(module_path: Path) -> tuple[Path, Path]:
    sys.modules.setdefault("nbwrite", _old_format_helpers())
    spec = importlib.util.spec_from_file_location(module_path.stem, module_path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{module_path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    name, cells = getattr(module, "NAME", None), getattr(module, "CELLS", None)
    if not isinstance(name, str) or not isinstance(cells, list):
        raise SystemExit(f"{module_path}: an old-format lesson defines NAME (e.g. '07-gateway-api') and CELLS")
    source = LESSONS / f"{name}.md"
    if source.exists():
        raise SystemExit(f"{source} exists already: this lesson was converted before")
    nb = new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC)})
    source.write_text(jupytext.writes(nb, fmt=TEXT_FORMAT))
    target = write_notebook(source)
    module_path.unlink()
    return source, target


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    module_path = Path(argv[0]).resolve()
    source, target = convert(module_path)
    print(f"wrote {source.relative_to(LESSONS.parent)} (edit this one) and {target.relative_to(LESSONS.parent)}; removed {module_path.name}")
    text = source.read_text()
    if "check_prediction" in text or "None," in text:
        print("left to do by hand: turn its predictions into predict(...) and a reveal cell (lessons/README.md, 'Predictions')")
    if "```mermaid" in text:
        print("left to do by hand: draw its ```mermaid blocks as lessons/diagrams/*.dot and show the .svg (lessons/README.md, 'Diagrams')")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
