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
