"""The lesson notebooks, as learners meet them: each is the pair of its text source, runs on the
simulator, waits at its first prediction, and exported to HTML shows every diagram with no network.

The notebooks run with GRADE_PREDICTIONS=answers (predictions filled in from lessons/answers/), the
documented way to run them end to end without editing them.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

from grader.diagram import MIN_TEXT_PX, smallest_text_px
from grader.predictions import load_answer_keys

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("0*.ipynb"))
EXPECTED = [
    "01-pod-networking", "02-services", "03-dns", "04-network-policies", "05-ingress-tls", "06-debugging",
    "07-gateway-api",
]
KERNEL_NAME = "k8s-netcourse-test"
CELL_TIMEOUT_SECONDS = 60


def _load_build_tool():
    """lessons/tools/build.py (the .md -> .ipynb writer), by path: the name `build` is a PyPI package's too."""
    spec = importlib.util.spec_from_file_location("lessons_build", LESSONS / "tools" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_tool()


def kernelspec_dir(root: Path) -> Path:
    """A Jupyter data dir whose only kernel runs this interpreter (no write to the user's home)."""
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "k8s-netcourse (tests)",
        "language": "python",
    }))
    return root


def execute(path: Path, data_dir: Path) -> nbformat.NotebookNode:
    """Run a notebook in a fresh kernel of this interpreter, from lessons/ (the backend and the
    predictions follow the environment: GRADE_BACKEND, GRADE_PREDICTIONS)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name=KERNEL_NAME, allow_errors=False,
        resources={"metadata": {"path": str(LESSONS)}},
    )
    client.execute()
    return nb


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.fixture(scope="module")
def jupyter_env(tmp_path_factory, monkeypatch_module):
    root = kernelspec_dir(tmp_path_factory.mktemp("jupyter"))
    monkeypatch_module.setenv("JUPYTER_PATH", str(root))
    monkeypatch_module.setenv("GRADE_BACKEND", "sim")
    monkeypatch_module.setenv("GRADE_PREDICTIONS", "answers")
    monkeypatch_module.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return root


@pytest.fixture(scope="module")
def executed(jupyter_env):
    """path -> the notebook run on the simulator with its predictions filled in (each run once)."""
    done: dict[Path, nbformat.NotebookNode] = {}

    def run(path: Path) -> nbformat.NotebookNode:
        if path not in done:
            try:
                done[path] = execute(path, jupyter_env)
            except CellTimeoutError as e:
                pytest.fail(f"{path.name}: a cell ran longer than {CELL_TIMEOUT_SECONDS} s: {e}")
            except CellExecutionError as e:
                pytest.fail(f"{path.name}: a cell failed:\n{e}")
        return done[path]

    return run


def outputs_text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", ""))
        data = o.get("data", {})
        parts.append(data.get("text/html", "") or data.get("text/plain", ""))
        parts.extend(o.get("traceback", []))
    return "".join(parts)


def code_cells(nb, containing: str):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and containing in c.source]


# ---------------------------------------------------------------------------------- the files


def test_all_lessons_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


def test_every_notebook_has_its_text_source_and_they_hold_the_same_cells():
    sources = {p.stem for p in build.lesson_sources()}
    assert sources == {p.stem for p in NOTEBOOKS}, "each lessons/NN-name.ipynb is written from lessons/NN-name.md"
    assert build.stale_notebooks() == [], "edit the .md, then run: python lessons/tools/build.py"


def test_the_sync_check_notices_an_edited_source(tmp_path, monkeypatch):
    """The pair check is not vacuous: a changed line in the .md makes its notebook stale."""
    for p in (LESSONS / "02-services.md", LESSONS / "02-services.ipynb"):
        (tmp_path / p.name).write_text(p.read_text())
    md = tmp_path / "02-services.md"
    md.write_text(md.read_text().replace("# Lesson 2: Services", "# Lesson 2: Services, edited"))
    monkeypatch.setattr(build, "LESSONS", tmp_path)
    assert [line.split(":")[0] for line in build.stale_notebooks()] == ["02-services.ipynb is not 02-services.md"]


def test_one_command_converts_a_lesson_of_the_old_format(tmp_path, monkeypatch):
    """python lessons/tools/convert.py lessons/tools/lessonNN.py: the old list of cells becomes a
    .md and its .ipynb, in sync, and the old file goes."""
    spec = importlib.util.spec_from_file_location("lessons_convert", LESSONS / "tools" / "convert.py")
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    old = tmp_path / "lesson07.py"
    old.write_text('from nbwrite import code, md\nNAME = "07-gateway-api"\n'
                   'CELLS = [md(r"""\n# Lesson 7\n\n```yaml\nkind: HTTPRoute\n```\n"""), code("x = 1\\nx")]\n')
    monkeypatch.setattr(convert, "LESSONS", tmp_path)
    source, target = convert.convert(old)
    assert not old.exists() and source == tmp_path / "07-gateway-api.md"
    text = source.read_text()
    assert "# Lesson 7\n\n```yaml\nkind: HTTPRoute\n```" in text and "```{code-cell}\nx = 1\nx\n```" in text
    assert build.same_cells(build.notebook_from_source(source), nbformat.read(target, as_version=4)) == []
    assert target.stat().st_mtime == source.stat().st_mtime, "jupytext opens the pair: the notebook is not newer than its text"


def test_static_diagrams_are_drawn_from_their_current_source():
    assert sorted(LESSONS.glob("diagrams/*.dot")), "lesson 2's picture of the Service types is a .dot"
    assert build.stale_diagrams() == [], "run: python lessons/tools/build.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_valid_and_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not with_outputs, f"{path.name}: cells {with_outputs} are stored with outputs; clear them before saving"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_predictions_wait_for_the_learner_and_reveal_cells_say_so_first(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "check_prediction" not in text, f"{path.name}: predictions are written with predict(...) and reveal(...)"
    assert not re.search(r"^\s*prediction\s*=\s*\{", text, re.M), f"{path.name}: a bare prediction dict does not stop Run All"
    for i, cell in code_cells(nb, "reveal("):
        assert cell.source.startswith("# Reveal:"), f"{path.name} cell {i}: a reveal cell's first line says it shows the answer"
        assert i > 0 and "predict(" in nb.cells[i - 1].source, f"{path.name} cell {i}: the prediction comes right before its reveal"
    for i, cell in code_cells(nb, "predict("):
        assert "assert" not in cell.source and "reveal(" not in cell.source, f"{path.name} cell {i}: the prediction cell holds only the prediction"


# ------------------------------------------------------------------------------ running them


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_simulator(path, executed):
    nb = executed(path)
    first = next(c for c in nb.cells if c.cell_type == "code")
    said = "".join(o.get("text", "") for o in first.outputs if o.get("output_type") == "stream")
    assert said.startswith("Simulator"), f"the first cell must say which backend is in use, it said: {said!r}"
    assert "GRADE_BACKEND" in said, "the first cell must say how to switch backends"
    keys = load_answer_keys()
    for i, cell in code_cells(nb, "reveal("):
        shown = outputs_text(cell)
        n = len(keys[re.search(r'predict\("([^"]+)"', nb.cells[i - 1].source).group(1)].answers)
        assert f"{n} of {n} predictions right" in shown, f"{path.name} cell {i}: filled from the answers, every prediction is right: {shown[:300]}"
        assert "Reveal" in shown


PREDICTING = [p for p in NOTEBOOKS if "predict(" in p.read_text()]


def test_every_lesson_but_debugging_asks_for_a_prediction():
    assert {p.stem for p in PREDICTING} == set(EXPECTED) - {"06-debugging"}


@pytest.mark.parametrize("path", PREDICTING, ids=lambda p: p.stem)
def test_every_prediction_is_stored_unanswered(path):
    """A fresh notebook's predict(...) calls hold only None, so each one stops Run All (shown for
    real on lesson 1 below; the other lessons run the same predict())."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in code_cells(nb, "predict("):
        call = next(n for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "predict")
        guesses = call.args[1]
        assert isinstance(guesses, ast.Dict) and guesses.values, f"{path.name} cell {i}: predict(NAME, {{case: None, ...}})"
        assert all(isinstance(v, ast.Constant) and v.value is None for v in guesses.values), f"{path.name} cell {i}: a prediction is stored filled in"


def test_run_all_on_a_fresh_notebook_stops_at_the_first_prediction(jupyter_env, monkeypatch):
    monkeypatch.delenv("GRADE_PREDICTIONS")
    path = LESSONS / "01-pod-networking.ipynb"
    nb = nbformat.read(path, as_version=4)
    first_prediction = code_cells(nb, "predict(")[0][0]
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name=KERNEL_NAME, allow_errors=False,
                            resources={"metadata": {"path": str(LESSONS)}})
    with pytest.raises(CellExecutionError, match="Your turn: predict before you read on"):
        client.execute()  # stops at the first error, as "Run All" does
    ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.execution_count]
    assert ran[-1] == first_prediction, f"Run All must stop at cell {first_prediction}, the first prediction; it ran {ran}"
    error = next(o for o in nb.cells[first_prediction].outputs if o.output_type == "error")
    message = "\n".join(error.traceback)
    assert error.ename == "PredictionNeeded"
    assert message.startswith("Your turn: predict before you read on.") and "replace each None with" in message
    assert "Traceback" not in message and "File " not in message, "the stop is a message, not a traceback"


# ------------------------------------------------------------------------- exported to HTML


def _svgs_in_html(page: str) -> list[str]:
    """The SVG outputs nbconvert's HTML page carries (as base64 <img> inside jp-RenderedSVG divs)."""
    found = []
    for block in re.findall(r'data-mime-type="image/svg\+xml"[^>]*>(.*?)</div>', page, re.S):
        m = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', block)
        found.append(base64.b64decode(m.group(1)).decode() if m else block)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exported_html_shows_every_diagram_without_network_or_javascript(path, executed):
    from nbconvert import HTMLExporter

    nb = executed(path)
    drawing_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and re.search(r"^(topology|request_path)\(", c.source, re.M)]
    assert drawing_cells, f"{path.name} draws no diagram"
    for i in drawing_cells:
        kinds = [o.data for o in nb.cells[i].outputs if "data" in o]
        assert any("image/svg+xml" in d for d in kinds), f"{path.name} cell {i}: the diagram has no SVG output"

    page, _ = HTMLExporter().from_notebook_node(nb, resources={"metadata": {"path": str(LESSONS)}})
    svgs = _svgs_in_html(page)
    diagrams = [s for s in svgs if "netcourse_diagram" in s]
    assert len(diagrams) >= len(drawing_cells), f"{path.name}: {len(diagrams)} diagrams in the HTML for {len(drawing_cells)} drawing cells"
    for svg in diagrams:
        assert "<script" not in svg and "foreignObject" not in svg, "a diagram is plain SVG: no script, no HTML inside"
        assert "<text" in svg, "the drawing carries its labels as SVG text"
        assert smallest_text_px(svg) >= MIN_TEXT_PX, f"{path.name}: a diagram's text would shrink below {MIN_TEXT_PX} px"
    assert "text/vnd.mermaid" not in page and "```mermaid" not in page and 'class="mermaid"' not in page

    # pictures in the lesson's Markdown: files beside the notebook (the HTML page is written next to it)
    for src in re.findall(r'<img [^>]*src="([^"]+\.svg)"', page):
        picture = LESSONS / src
        assert picture.is_file(), f"{path.name}: the page shows {src}, which does not exist next to the notebook"
        assert smallest_text_px(picture.read_text()) >= MIN_TEXT_PX


def test_the_service_types_picture_is_in_the_page_and_embeds_with_embed_images():
    from nbconvert import HTMLExporter

    nb = nbformat.read(LESSONS / "02-services.ipynb", as_version=4)
    page, _ = HTMLExporter().from_notebook_node(nb, resources={"metadata": {"path": str(LESSONS)}})
    assert 'src="diagrams/02-service-types.svg"' in page
    embedded, _ = HTMLExporter(embed_images=True).from_notebook_node(nb, resources={"metadata": {"path": str(LESSONS)}})
    m = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', embedded)
    assert m and "netcourse_diagram service_types" in base64.b64decode(m.group(1)).decode()
