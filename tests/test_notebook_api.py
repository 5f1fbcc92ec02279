"""grader.notebook: backend choice, tables, diagrams and prediction checks, as a notebook user sees them."""

from __future__ import annotations

import pytest

from grader.checks import SetupError
from grader.notebook import (
    Diagram, check_prediction, choose_backend, open_lab, pod, request_path, show_table, topology,
)


@pytest.fixture
def sim(monkeypatch):
    monkeypatch.setenv("GRADE_BACKEND", "sim")


def test_open_lab_says_simulator_and_how_to_switch(sim, capsys):
    lab = open_lab("01-pod-networking", namespace="pods-demo")
    said = capsys.readouterr().out
    assert said.startswith("Simulator") and "GRADE_BACKEND=live" in said and said.count("\n") == 1
    assert {p.name for p in lab.pods()} == {"client", "server-a", "server-b", "node-probe"}


def test_live_without_cluster_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADE_BACKEND", "live")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(SetupError, match="not reachable"):
        choose_backend()


def test_unknown_backend_name_is_refused(monkeypatch):
    monkeypatch.setenv("GRADE_BACKEND", "cloud")
    with pytest.raises(SetupError, match="sim, live or auto"):
        choose_backend()


def test_missing_manifest_folder_names_where_it_looked(sim):
    with pytest.raises(SetupError, match="no such file or folder"):
        open_lab("99-nothing", namespace="x")


def test_non_enforcing_lab_ignores_policy(sim, capsys):
    lab = open_lab(["01-pod-networking", "01-deny-all"], namespace="pods-demo", enforce_policy=False)
    assert "Flannel" in capsys.readouterr().out
    table = lab.reachability(["client"], ["server-a"], 8080, expected=False)
    assert table.observed == {("pods-demo/client", "pods-demo/server-a"): True}


def test_show_table_marks_differences_in_html(sim):
    lab = open_lab(["01-pod-networking", "01-deny-all"], namespace="pods-demo", quiet=True)
    table = lab.reachability(["client"], ["server-a", "server-b"], 8080, expected={("client", "server-a"): True, ("client", "server-b"): False})
    html = show_table(table, "deny all")._repr_html_()
    assert "deny all" in html and html.count("3px solid") == 1 and "1 cell(s) differ" in html


def test_topology_links_services_to_their_pods_and_policies_to_selected_pods(sim):
    lab = open_lab("02-services", namespace="services-demo", quiet=True)
    src = topology(lab).source
    assert src.startswith("flowchart LR")
    web_links = [l for l in src.splitlines() if l.strip().startswith("n_svc_services_demo_web -->")]
    assert len(web_links) == 2  # two web pods behind Service web
    assert not any(l.strip().startswith("n_svc_services_demo_web_typo -->") for l in src.splitlines())
    lab = open_lab(["04-network-policies/base", "04-network-policies/deny-ingress"], namespace="netpol-demo", quiet=True)
    assert topology(lab).source.count("-. selects .->") == 4  # the four pods of netpol-demo


def test_diagram_offers_mermaid_and_markdown():
    bundle = Diagram("flowchart LR\n  a --> b")._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"].startswith("flowchart")
    assert bundle["text/markdown"].startswith("```mermaid\n")


def test_request_path_follows_dns_service_endpoint_policy_listener(sim):
    lab = open_lab("02-services", namespace="services-demo", quiet=True)
    src = request_path(lab.connect("client", "web", 80), lab).source
    for step in ("DNS web", "Service services-demo/web", "endpoint services-demo/web-", "NetworkPolicy", "listens on TCP/8080", "ALLOWED"):
        assert step in src, step
    broken = request_path(lab.connect("client", "web-typo", 80), lab).source
    assert "no ready endpoints" in broken and "listens on" not in broken and "fill:#f7c5c5" in broken


def test_request_path_shows_a_blocked_policy_step(sim):
    lab = open_lab(["01-pod-networking", "01-deny-all"], namespace="pods-demo", quiet=True)
    src = request_path(lab.connect("client", pod(lab, "server-b").ip, 8080), lab).source
    assert "ingress: BLOCKED" in src and "BLOCKED" in src.split("verdict([")[-1]


def test_request_path_for_lookups_and_http(sim):
    lab = open_lab("03-dns", namespace="dns-demo", quiet=True)
    src = request_path(lab.resolve("client", "api")).source
    assert src.count("-- try") == 4 and "NXDOMAIN" in src
    lab = open_lab("02-services", namespace="services-demo", quiet=True)
    src = request_path(lab.http("nodeport", "localhost", "/", port=30080)).source
    assert "NodePort 30080" in src and "HTTP 200" in src


def test_labels_with_quotes_and_brackets_stay_inside_the_label():
    from grader.notebook import _label

    assert _label('a "b" <c>\nd') == "a #quot;b#quot; #lt;c#gt;<br/>d"


def test_check_prediction_for_a_table(sim):
    lab = open_lab(["01-pod-networking", "01-deny-all"], namespace="pods-demo", quiet=True)
    table = lab.reachability(["client"], ["server-a", "server-b"], 8080, expected=False)
    check = check_prediction({("client", "server-a"): False, ("client", "server-b"): True}, table)
    assert not check.matches and check.wrong == ["client -> server-b"]
    assert "1 of 2 predictions right" in check._repr_html_()


def test_check_prediction_for_a_dict_reports_blanks_and_differences():
    check = check_prediction({"web:80": True, "web:8080": True, "x": None}, {"web:80": True, "web:8080": False, "x": False})
    assert check.wrong == ["web:8080"] and check.missing == ["x"] and not check.matches
    assert "not filled in" in check.summary()
    assert check_prediction({"a": 1}, {"a": 1}).matches


def test_check_prediction_rejects_keys_that_do_not_exist():
    with pytest.raises(KeyError, match="no observed value"):
        check_prediction({"typo": True}, {"web": True})


def test_prediction_cases_keep_http_paths_and_shorten_pod_keys():
    actual = {("shop.example.test", "/api/v1/users"): "api", ("shop.example.test", "/"): "shop"}
    check = check_prediction({("shop.example.test", "/api/v1/users"): "api", ("shop.example.test", "/"): "blog"}, actual)
    assert [k for k, _, _ in check.rows] == ["shop.example.test -> /api/v1/users", "shop.example.test -> /"]
    assert check.wrong == ["shop.example.test -> /"]
    pods = check_prediction({("netpol-monitoring/prometheus", "netpol-demo/api"): True}, {("netpol-monitoring/prometheus", "netpol-demo/api"): True})
    assert pods.rows[0][0] == "prometheus -> api"


def test_topology_shows_the_lab_namespaces_and_cluster_dns_unless_asked_for_all(sim):
    lab = open_lab("01-pod-networking", namespace="pods-demo", quiet=True)
    src = topology(lab).source
    assert "namespace pods-demo" in src and "namespace kube-system" in src
    assert "local-path-storage" not in src and "namespace default" not in src
    assert "53/UDP→53" in src  # the protocol tells kube-dns's two port-53 entries apart
    everything = topology(lab, all_namespaces=True).source
    assert "namespace local-path-storage" in everything and "Service kubernetes" in everything


# ------------------------------------------------------------------ every diagram through Mermaid's parser

MERMAID_MODULES_ENV = "MERMAID_NODE_MODULES"
PARSE_SCRIPT = r"""
// stdin: {name: mermaid source}; stdout: {name: null | parse error}. Mermaid needs a DOM: jsdom gives it one.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const modules = process.argv[2];
const { JSDOM } = createRequire(modules + '/')('jsdom');
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window; globalThis.document = dom.window.document;
const { default: mermaid } = await import(pathToFileURL(modules + '/mermaid/dist/mermaid.core.mjs').href);
mermaid.initialize({ startOnLoad: false });
let input = ''; for await (const chunk of process.stdin) input += chunk;
const out = {};
for (const [name, src] of Object.entries(JSON.parse(input))) {
  try { await mermaid.parse(src); out[name] = null; } catch (e) { out[name] = String(e.message || e); }
}
console.log(JSON.stringify(out));
"""


def _mermaid_modules():
    """A node_modules folder holding the mermaid and jsdom npm packages, or a skip saying how to get one."""
    import os
    import shutil
    from pathlib import Path

    folder = os.environ.get(MERMAID_MODULES_ENV)
    how = f"`npm install --prefix DIR mermaid jsdom`, then set {MERMAID_MODULES_ENV}=DIR/node_modules"
    if not folder:
        pytest.skip(f"no Mermaid parser: {how}")
    path = Path(folder)
    if not (path / "mermaid" / "dist" / "mermaid.core.mjs").exists() or not (path / "jsdom").exists():
        pytest.fail(f"{MERMAID_MODULES_ENV}={folder}: mermaid or jsdom is missing there; {how}")
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: the Mermaid parser runs in Node.js")
    return path


def mermaid_errors(sources: dict[str, str], modules, tmp_path) -> dict[str, str]:
    """{name: parse error} for each source Mermaid refuses (empty when all parse)."""
    import json
    import subprocess

    script = tmp_path / "parse.mjs"
    script.write_text(PARSE_SCRIPT)
    run = subprocess.run(["node", str(script), str(modules)], input=json.dumps(sources), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return {name: err for name, err in json.loads(run.stdout).items() if err}


def test_the_mermaid_parser_refuses_a_broken_diagram(tmp_path):
    modules = _mermaid_modules()
    errors = mermaid_errors({"ok": 'flowchart LR\n  a["x(y)"] --> b', "unquoted": "flowchart LR\n  a[x(y)] --> b"}, modules, tmp_path)
    assert list(errors) == ["unquoted"] and "Parse error" in errors["unquoted"]


def test_every_diagram_the_lessons_draw_parses_as_mermaid(tmp_path, monkeypatch):
    """Runs the six lessons on the simulator and feeds each diagram (outputs and ```mermaid blocks) to Mermaid."""
    import json
    import re
    import sys
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    modules = _mermaid_modules()
    lessons = Path(__file__).resolve().parent.parent / "lessons"
    kernel = tmp_path / "jupyter" / "kernels" / "netcourse-mermaid"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"], "display_name": "tests", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("GRADE_BACKEND", "sim")
    sources: dict[str, str] = {}
    for path in sorted(lessons.glob("0*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=60, kernel_name="netcourse-mermaid", resources={"metadata": {"path": str(lessons)}}).execute()
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                for j, block in enumerate(re.findall(r"```mermaid\n(.*?)```", cell.source, re.S)):
                    sources[f"{path.name} cell {i} markdown block {j}"] = block
            for j, out in enumerate(cell.get("outputs", [])):
                if "text/vnd.mermaid" in out.get("data", {}):
                    sources[f"{path.name} cell {i} output {j}"] = out["data"]["text/vnd.mermaid"]
    per_lesson = {path.name: sum(k.startswith(path.name) for k in sources) for path in sorted(lessons.glob("0*.ipynb"))}
    assert len(per_lesson) == 6 and min(per_lesson.values()) >= 2, per_lesson  # each draws a topology and a request path
    errors = mermaid_errors(sources, modules, tmp_path)
    assert not errors, "\n\n".join(f"{k}:\n{v}" for k, v in errors.items())
