"""grader.notebook: backend choice, tables, diagrams and prediction checks, as a notebook user sees them."""

from __future__ import annotations

import pytest

from grader.checks import SetupError
from grader.diagram import MIN_TEXT_PX, Diagram, smallest_text_px
from grader.notebook import (
    check_prediction, choose_backend, model_expectation, open_lab, pod, request_path, show_table, topology,
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
    assert "from (rows) \u2192 to (columns)" in html, "the HTML table says which way it reads, as the CLI's does"


def _edges(d: Diagram) -> list[tuple[str, str, str]]:
    return [(d.nodes[e.src].label.split("\n")[0], d.nodes[e.dst].label.split("\n")[0], e.label) for e in d.edges]


def test_topology_links_services_to_their_pods_and_policies_to_selected_pods(sim):
    lab = open_lab("02-services", namespace="services-demo", quiet=True)
    d = topology(lab)
    assert d.direction == "LR"
    web_links = [e for e in _edges(d) if e[0] == "Service web"]
    assert len(web_links) == 2 and all(dst.startswith("web-") for _, dst, _ in web_links)  # two web pods behind Service web
    assert not [e for e in _edges(d) if e[0] == "Service web-typo"]
    lab = open_lab(["04-network-policies/base", "04-network-policies/deny-ingress"], namespace="netpol-demo", quiet=True)
    selects = [e for e in topology(lab).edges if e.label == "selects"]
    assert len(selects) == 4 and all(e.dashed for e in selects)  # the four pods of netpol-demo


def test_a_diagram_is_an_svg_every_viewer_shows_with_a_text_outline_beside_it():
    d = Diagram("request_path")
    d.node("a", "client\n10.244.1.2")
    d.node("b", 'Service "web" <ClusterIP>')
    d.edge("a", "b", "try 1")
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}, "no Mermaid, no Markdown: nothing that needs JavaScript"
    svg = bundle["image/svg+xml"]
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and 'class="graph netcourse_diagram request_path"' in svg
    assert ">client</text>" in svg and ">10.244.1.2</text>" in svg, "a line break in a label is two lines of text"
    assert "Service &quot;web&quot; &lt;ClusterIP&gt;" in svg, "quotes and brackets stay inside the label"
    assert "client | 10.244.1.2" in bundle["text/plain"] and "client --try 1--> Service" in bundle["text/plain"]
    assert d.svg() == Diagram("request_path", nodes=d.nodes, edges=d.edges).svg(), "the same diagram draws the same SVG"


def test_without_pygraphviz_a_diagram_shows_its_outline_and_how_to_get_the_drawing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pygraphviz(name, *args, **kwargs):
        if name == "pygraphviz":
            raise ImportError("No module named 'pygraphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pygraphviz)
    d = Diagram("topology")
    d.node("a", "web")
    bundle = d._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "web" in bundle["text/plain"] and "pip install -e '.[lab]'" in bundle["text/plain"]


def test_request_path_follows_dns_service_endpoint_policy_listener(sim):
    lab = open_lab("02-services", namespace="services-demo", quiet=True)
    d = request_path(lab.connect("client", "web", 80), lab)
    assert d.direction == "TB", "a chain goes top-down, so it never gets too wide to read"
    steps = [n.label for n in d.nodes.values()]
    for step, label in zip(("services-demo/client", "DNS web", "Service services-demo/web", "endpoint services-demo/web-", "NetworkPolicy", "listens on TCP/8080", "ALLOWED"), steps):
        assert step in label, (step, label)
    broken = request_path(lab.connect("client", "web-typo", 80), lab)
    labels = " ".join(n.label for n in broken.nodes.values())
    assert "no ready endpoints" in labels and "listens on" not in labels
    assert broken.nodes["ep"].fill == "#f7c5c5", "the failed step is red"


def test_a_long_request_path_keeps_its_text_readable(sim):
    lab = open_lab("02-services", namespace="services-demo", quiet=True)
    svg = request_path(lab.connect("client", "web", 80), lab).svg()
    assert smallest_text_px(svg) >= MIN_TEXT_PX


def test_request_path_shows_a_blocked_policy_step(sim):
    lab = open_lab(["01-pod-networking", "01-deny-all"], namespace="pods-demo", quiet=True)
    d = request_path(lab.connect("client", pod(lab, "server-b").ip, 8080), lab)
    assert "ingress: BLOCKED" in d.nodes["policy"].label and d.nodes["verdict"].label.startswith("BLOCKED")


def test_request_path_for_lookups_and_http(sim):
    lab = open_lab("03-dns", namespace="dns-demo", quiet=True)
    d = request_path(lab.resolve("client", "api"))
    assert [e.label for e in d.edges].count("try 1") == 1 and sum(e.label.startswith("try ") for e in d.edges) == 4
    assert "NXDOMAIN" in d.nodes["verdict"].label
    lab = open_lab("02-services", namespace="services-demo", quiet=True)
    d = request_path(lab.http("nodeport", "localhost", "/", port=30080))
    assert "NodePort 30080" in d.nodes["entry"].label and "HTTP 200" in d.nodes["verdict"].label


def test_model_expectation_is_what_the_simulator_says_for_each_pair(sim):
    open_ = open_lab("01-pod-networking", namespace="pods-demo", quiet=True)
    assert model_expectation(open_, ["client"], ["server-a", "server-b"], 8080) == {("client", "server-a"): True, ("client", "server-b"): True}
    denied = open_lab(["01-pod-networking", "01-deny-all"], namespace="pods-demo", quiet=True)
    assert model_expectation(denied, ["client"], ["server-a"], 8080) == {("client", "server-a"): False}


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
    text = topology(lab).text()
    assert "[namespace pods-demo]" in text and "[namespace kube-system]" in text
    assert "local-path-storage" not in text and "namespace default" not in text
    assert "53/UDP\u219253" in text  # the protocol tells kube-dns's two port-53 entries apart
    everything = topology(lab, all_namespaces=True).text()
    assert "[namespace local-path-storage]" in everything and "Service kubernetes" in everything
