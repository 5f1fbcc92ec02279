"""The lesson notebooks: valid nbformat v4, stored without outputs, and every cell runs on the simulator."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("0*.ipynb"))
EXPECTED = [
    "01-pod-networking", "02-services", "03-dns", "04-network-policies", "05-ingress-tls", "06-debugging",
    "07-gateway-api",
]
KERNEL_NAME = "k8s-netcourse-test"
CELL_TIMEOUT_SECONDS = 60


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
    """Run a notebook in a fresh kernel of this interpreter, from lessons/, on the simulator."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_SECONDS, kernel_name=KERNEL_NAME, allow_errors=False,
        resources={"metadata": {"path": str(LESSONS)}},
    )
    client.execute()
    return nb


@pytest.fixture(scope="module")
def jupyter_env(tmp_path_factory, monkeypatch_module):
    root = kernelspec_dir(tmp_path_factory.mktemp("jupyter"))
    monkeypatch_module.setenv("JUPYTER_PATH", str(root))
    monkeypatch_module.setenv("GRADE_BACKEND", "sim")
    monkeypatch_module.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_all_lessons_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_valid_and_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not with_outputs, f"{path.name}: cells {with_outputs} are stored with outputs; clear them before saving"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_simulator(path, jupyter_env):
    try:
        nb = execute(path, jupyter_env)
    except CellTimeoutError as e:
        pytest.fail(f"{path.name}: a cell ran longer than {CELL_TIMEOUT_SECONDS} s: {e}")
    except CellExecutionError as e:
        pytest.fail(f"{path.name}: a cell failed:\n{e}")
    first = next(c for c in nb.cells if c.cell_type == "code")
    said = "".join(o.get("text", "") for o in first.outputs if o.get("output_type") == "stream")
    assert said.startswith("Simulator"), f"the first cell must say which backend is in use, it said: {said!r}"
    assert "GRADE_BACKEND" in said, "the first cell must say how to switch backends"
