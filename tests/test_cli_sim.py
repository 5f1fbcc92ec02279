"""`grade sim`: the JSON contract other tools parse, and bad input.

`grade(...)` runs the command in this interpreter (tests/cli_in_process.py); the tests marked e2e
start a real `grade` process (the contract as a tool meets it, and a pipe that `head` closes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_in_process import run_grade

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "three-tier.yaml")
INGRESS = str(ROOT / "tests" / "data" / "cli" / "ingress.yaml")


_RUN: list = []  # how to run `grade` in the current test (set by _in_process)


@pytest.fixture(autouse=True)
def _in_process(monkeypatch, capsys):
    _RUN.append(lambda args: run_grade(monkeypatch, capsys, args, cwd=ROOT, env={}))
    yield
    _RUN.clear()


def grade(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    p = _RUN[-1](args)
    if check:
        assert p.returncode == 0, p.stderr
    return p


@pytest.mark.e2e
def test_matrix_json_contract():
    p = subprocess.run([sys.executable, "-m", "grader.cli", "sim", "matrix", EXAMPLE, "--json"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    cells = json.loads(p.stdout)
    assert cells and all(set(c) == {"from", "to", "port", "protocol", "allowed"} for c in cells)
    by = {(c["from"], c["to"], c["port"]): c["allowed"] for c in cells}
    assert by[("shop/web-0", "shop/db", 5432)] is False  # only api may reach db
    api = next(c["to"] for c in cells if c["to"].startswith("shop/api-"))
    assert by[("shop/web-0", api, 8080)] is True
    assert by[("shop/db", api, 8080)] is False
    assert all(isinstance(c["port"], int) and c["protocol"] == "TCP" for c in cells)


def test_matrix_text_is_the_upstream_truth_table():
    out = grade("sim", "matrix", EXAMPLE).stdout
    assert "TCP/5432" in out and "X" in out and "." in out


def test_matrix_without_policy_enforcement_allows_everything():
    cells = json.loads(grade("sim", "matrix", EXAMPLE, "--json", "--no-policy").stdout)
    assert all(c["allowed"] for c in cells)


def test_resolve_json_contract_for_clusterip_headless_externalname_and_nxdomain():
    keys = {"name", "fqdn", "type", "answers", "service", "pods", "cname"}
    a = json.loads(grade("sim", "resolve", INGRESS, "--from", "shop/web", "--name", "web", "--json").stdout)
    assert set(a) == keys and a["type"] == "A" and a["service"] == "shop/web" and a["fqdn"].startswith("web.shop.svc.cluster.local")
    h = json.loads(grade("sim", "resolve", INGRESS, "--from", "shop/web", "--name", "headless.shop.svc.cluster.local", "--json").stdout)
    assert h["type"] == "A" and h["pods"] == ["shop/web"] and len(h["answers"]) == 1
    e = json.loads(grade("sim", "resolve", INGRESS, "--from", "shop/web", "--name", "ext", "--json").stdout)
    assert e["type"] == "CNAME" and e["cname"].rstrip(".") == "example.com"
    n = json.loads(grade("sim", "resolve", INGRESS, "--from", "shop/web", "--name", "nope", "--json").stdout)
    assert n["type"] == "NXDOMAIN" and n["answers"] == [] and n["fqdn"] is None


def test_route_json_contract():
    r = json.loads(grade("sim", "route", INGRESS, "--host", "shop.example.com", "--path", "/api/items", "--scheme", "https", "--json").stdout)
    assert r == {"service": "shop/web", "port": 80, "status": r["status"], "tls_secret": "shop/shop-tls", "ingress": "shop/shop"}
    miss = json.loads(grade("sim", "route", INGRESS, "--host", "shop.example.com", "--path", "/other", "--json").stdout)
    assert miss["service"] is None and miss["status"] == 404


def test_connect_prints_verdict_and_trace():
    out = grade("sim", "connect", EXAMPLE, "--from", "shop/web-0", "--to", "db:5432").stdout
    assert out.splitlines()[0].endswith("blocked")
    assert "shop/db-from-api" in out


def test_connect_json():
    c = json.loads(grade("sim", "connect", EXAMPLE, "--from", "shop/web-0", "--to", "api:8080", "--json").stdout)
    assert c["verdict"] == "allowed" and c["allowed"] is True and c["service"] == "shop/api" and c["trace"]


@pytest.mark.parametrize(
    "content,needle",
    [
        ("kind: Pod\nmetadata: {name: x}\n", "apiVersion"),
        ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: [oops\n", ":"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n    - port: eighty\n", "eighty"),
        ("apiVersion: v1\nkind: Deployement\nmetadata: {name: x}\n", "Deployment"),
    ],
)
def test_bad_input_exits_2_with_file_line_and_no_traceback(tmp_path, content, needle):
    f = tmp_path / "bad.yaml"
    f.write_text(content)
    p = grade("sim", "matrix", str(f), check=False)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr + p.stdout
    assert "bad.yaml:" in p.stderr and needle in p.stderr


def test_missing_file_and_unknown_pod_exit_2(tmp_path):
    p = grade("sim", "matrix", str(tmp_path / "nope.yaml"), check=False)
    assert p.returncode == 2 and "no such file" in p.stderr
    p = grade("sim", "connect", EXAMPLE, "--from", "shop/ghost", "--to", "db:5432", check=False)
    assert p.returncode == 2 and "no pod shop/ghost" in p.stderr
    p = grade("sim", "connect", EXAMPLE, "--from", "shop/web-0", "--to", "db", check=False)
    assert p.returncode == 2 and "HOST:PORT" in p.stderr


def test_from_accepts_a_workload_name_and_says_which_pod_it_used():
    p = grade("sim", "connect", EXAMPLE, "--from", "shop/api", "--to", "db:5432")
    assert p.stdout.splitlines()[0].startswith("shop/api-") and p.stdout.splitlines()[0].endswith("allowed")
    assert "using shop/api-" in p.stderr


def test_unknown_pod_in_default_namespace_suggests_namespace(tmp_path):
    f = tmp_path / "pods.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: client}\nspec:\n  containers: [{name: c, image: x}]\n")
    p = grade("sim", "connect", str(f), "--from", "lesson2/client", "--to", "x:80", check=False)
    assert p.returncode == 2 and "--namespace lesson2" in p.stderr


def test_matrix_text_has_a_column_only_for_destinations_with_that_port():
    out = grade("sim", "matrix", EXAMPLE).stdout
    block = out.split("TCP/5432", 1)[1].split("\n\n", 1)[0]
    header = block.splitlines()[1].split("\t")
    assert header == ["-", "shop/db"]


@pytest.mark.e2e
def test_matrix_piped_into_head_exits_quietly(tmp_path):
    big = tmp_path / "big.yaml"  # ~300 x 300 cells: more than a pipe buffer, so head closes it mid-write
    big.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 300\n"
        "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
        "    spec:\n      containers: [{name: w, image: x, ports: [{containerPort: 80}]}]\n"
    )
    p = subprocess.run(f"{sys.executable} -m grader.cli sim matrix {big} | head -1", shell=True, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.stdout.startswith("TCP/80")
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr


def test_to_accepts_a_pod_by_name():
    p = grade("sim", "connect", EXAMPLE, "--from", "shop/web-0", "--to", "shop/db:5432")
    assert p.stdout.splitlines()[0].endswith("blocked") and "pod IP" in p.stderr


def test_connect_says_when_a_pods_node_is_the_simulators_guess():
    out = grade("sim", "connect", EXAMPLE, "--from", "shop/web-0", "--to", "api:8080").stdout
    assert "placement: shop/web-0 runs on" in out and "simulator's guess" in out
    c = json.loads(grade("sim", "connect", EXAMPLE, "--from", "shop/web-0", "--to", "api:8080", "--json").stdout)
    assert any("simulator's guess" in note for note in c["placement_guesses"]) and c["placement_note"] == ""


def test_matrix_summary_counts_each_namespace_pair_and_names_the_deciding_policies():
    out = grade("sim", "matrix", EXAMPLE, "--summary").stdout
    line = next(row for row in out.splitlines() if row.startswith("shop  "))
    assert line.split()[:4] == ["shop", "shop", "19", "25"]  # 5 pods: web x2 (80), api x2 (8080), db (5432)
    assert "blocked by" in line and "shop/default-deny-ingress (ingress)" in line
    pairs = json.loads(grade("sim", "matrix", EXAMPLE, "--summary", "--json").stdout)
    assert pairs == [{"from": "shop", "to": "shop", "allowed": 19, "total": 25, "allowed_by": pairs[0]["allowed_by"], "blocked_by": pairs[0]["blocked_by"]}]
    assert "shop/db-from-api (ingress)" in pairs[0]["allowed_by"] and "shop/db-from-api (ingress)" in pairs[0]["blocked_by"]


def test_matrix_from_and_to_narrow_rows_and_columns():
    out = grade("sim", "matrix", EXAMPLE, "--from", "shop/web", "--to", "shop/db").stdout
    assert out.split("\n\n")[0].splitlines() == [
        "TCP/5432  (rows: from, columns: to; . allowed, X blocked)", "-\tshop/db", "shop/web-0\tX", "shop/web-1\tX"]
    cells = json.loads(grade("sim", "matrix", EXAMPLE, "--from", "shop/api", "--to", "shop/db", "--json").stdout)
    assert [c["allowed"] for c in cells] == [True, True] and {c["from"].split("-")[0] for c in cells} == {"shop/api"}


def test_matrix_text_too_large_is_refused_with_how_to_narrow_it():
    p = grade("sim", "matrix", EXAMPLE, "--max-cells", "10", check=False)
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    assert "25 cells" in p.stderr and "--from" in p.stderr and "--to" in p.stderr and "--summary" in p.stderr
    assert grade("sim", "matrix", EXAMPLE, "--max-cells", "10", "--from", "shop/db").stdout.startswith("TCP/")


def test_matrix_help_explains_narrowing_and_the_size_limit():
    text = grade("sim", "matrix", "--help").stdout
    for option in ("--from", "--to", "--namespace", "--summary", "--max-cells", "NS/POD"):
        assert option in text
    p = grade("sim", "matrix", EXAMPLE, "--from", "nope", check=False)
    assert p.returncode == 2 and "namespace 'nope' has no pods" in p.stderr and "shop" in p.stderr
