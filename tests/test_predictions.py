"""grader.predictions: a prediction waits for the learner, and the reveal speaks the probe's words."""

from __future__ import annotations

import pytest

from grader.checks import SetupError
from grader.notebook import open_lab, pod
from grader.predictions import (
    LessonMismatch, PredictionNeeded, agrees, load_answer_keys, outcome, predict, reveal,
)


@pytest.fixture(autouse=True)
def sim(monkeypatch):
    monkeypatch.setenv("GRADE_BACKEND", "sim")
    monkeypatch.delenv("GRADE_PREDICTIONS", raising=False)


POD_PORTS = {"TCP 8080": None, "TCP 8081": None, "TCP 80": None}


def pod_ports_observed():
    lab = open_lab("01-pod-networking", namespace="pods-demo", quiet=True)
    ip = pod(lab, "server-a").ip
    return {case: lab.connect("client", ip, int(case.split()[1])) for case in POD_PORTS}


def test_an_unanswered_prediction_stops_with_what_to_write_and_no_traceback():
    with pytest.raises(PredictionNeeded) as stop:
        predict("pod-ports", {"TCP 8080": "connects", "TCP 8081": None, "TCP 80": None})
    lines = stop.value._render_traceback_()  # what IPython shows instead of a traceback
    assert lines[0] == "Your turn: predict before you read on."
    assert '"connects", "refused" or "blocked"' in lines[1] and "True and False" in lines[1]
    assert lines[2] == "Still None: TCP 8081, TCP 80"
    assert "Run Selected Cell and All Below" in lines[3]


def test_grade_predictions_answers_fills_the_blanks_from_the_answer_key(monkeypatch, capsys):
    monkeypatch.setenv("GRADE_PREDICTIONS", "answers")
    p = predict("pod-ports", {"TCP 8080": "refused", "TCP 8081": None, "TCP 80": None})
    assert dict(p) == {"TCP 8080": "refused", "TCP 8081": "refused", "TCP 80": "refused"}, "a written value is kept"
    assert "GRADE_PREDICTIONS=answers: 2 of 3 predictions filled in from lessons/answers/01-pod-networking.yaml" in capsys.readouterr().out


def test_an_unknown_setting_of_grade_predictions_is_refused(monkeypatch):
    monkeypatch.setenv("GRADE_PREDICTIONS", "yes")
    with pytest.raises(SetupError, match="GRADE_PREDICTIONS=answers"):
        predict("pod-ports", POD_PORTS)


def test_words_are_checked_and_spelled_one_way():
    p = predict("dns-names", {"web": True, "WEB": "Resolves", "web.dns-demo.svc": "resolves", "db-1.db": "?",
                              "api": "nxdomain", "api.dns-other": "resolves", "db-2.db": False})
    assert dict(p) == {"web": "resolves", "WEB": "resolves", "web.dns-demo.svc": "resolves", "db-1.db": "?",
                       "api": "NXDOMAIN", "api.dns-other": "resolves", "db-2.db": "does not resolve"}
    with pytest.raises(PredictionNeeded) as stop:
        predict("dns-names", {**dict(p), "api": "blocked"})
    assert "\"resolves\" or \"NXDOMAIN\"" in stop.value.lines[0] and "api: 'blocked'" in stop.value.lines


def test_cases_must_stay_as_the_lesson_wrote_them():
    with pytest.raises(PredictionNeeded, match="Missing: TCP 80"):
        predict("pod-ports", {"TCP 8080": None, "TCP 8081": None, "TCP 443": None})


def test_an_unknown_question_names_the_known_ones():
    with pytest.raises(SetupError, match="pod-ports"):
        predict("no-such-question", {})


def test_reveal_compares_in_the_words_of_a_connection():
    p = predict("pod-ports", {"TCP 8080": "connects", "TCP 8081": "blocked", "TCP 80": False})
    shown = reveal(p, pod_ports_observed())
    assert [(case, said, seen) for case, said, seen, _ in shown.rows] == [
        ("TCP 8080", "connects", "connects"), ("TCP 8081", "blocked", "refused"), ("TCP 80", "does not connect", "refused"),
    ]
    assert shown.summary() == "2 of 3 predictions right; different: TCP 8081"
    html = shown._repr_html_()
    assert html.startswith("<p><b>Reveal</b>") and html.count("#f7c5c5") == 1 and html.count("#c8f7c5") == 2


def test_reveal_speaks_of_names_for_lookups_not_of_connections():
    lab = open_lab("03-dns", namespace="dns-demo", quiet=True)
    names = ["web", "WEB", "web.dns-demo.svc", "db-1.db", "api", "api.dns-other", "db-2.db"]
    p = predict("dns-names", {n: "resolves" for n in names})
    shown = reveal(p, {n: lab.resolve("client", n) for n in names})
    assert ("api", "resolves", "NXDOMAIN") in [r[:3] for r in shown.rows]
    assert "blocked" not in repr(shown) and "False" not in repr(shown)
    assert shown.wrong == ["api", "db-2.db"]


def test_reveal_shows_the_service_or_the_http_status():
    lab = open_lab("05-ingress-tls", namespace="ingress-demo", quiet=True)
    urls = ["http://shop.example.test/", "http://shop.example.test/api/v1/users", "http://shop.example.test/apiv2",
            "http://shop.example.test/healthz", "http://shop.example.test/healthz/ready", "http://SHOP.example.test/api",
            "http://blog.example.test/api", "http://other.example.test/"]
    observed = {}
    for url in urls:
        host, _, path = url.removeprefix("http://").partition("/")
        observed[url] = lab.http("ingress", host, "/" + path)
    p = predict("ingress-routes", {url: "shop" for url in urls})
    shown = {case: seen for case, _, _, seen in reveal(p, observed).rows}
    assert shown["http://shop.example.test/"] == "shop (HTTP 200)"
    assert shown["http://other.example.test/"] == "HTTP 404"


def test_reveal_reads_cells_of_a_reachability_table():
    lab = open_lab(["04-network-policies/base", "04-network-policies/deny-ingress", "04-network-policies/allow-web-to-api"],
                   namespace="netpol-demo", quiet=True)
    sources = ["web", "api", "netpol-monitoring/prometheus"]
    table = lab.reachability(sources, ["api", "db", "web"], 8080, True)
    p = predict("policy-union", {"web -> api": "connects", "web -> db": "connects", "api -> db": "connects",
                                 "api -> web": "blocked", "netpol-monitoring/prometheus -> api": "blocked"})
    shown = reveal(p, table)
    assert shown.wrong == ["web -> db"]


def test_when_the_backend_disagrees_with_the_lesson_reveal_says_so(capsys):
    observed = pod_ports_observed()
    observed["TCP 80"] = observed["TCP 8080"]  # as if something listened on 80
    p = predict("pod-ports", {"TCP 8080": "connects", "TCP 8081": "refused", "TCP 80": "refused"})
    with pytest.raises(LessonMismatch, match="TCP 80: the lesson expects refused, observed connects"):
        reveal(p, observed)
    assert "Reveal:" in capsys.readouterr().out, "the comparison is shown before the error"


def test_does_not_connect_agrees_with_every_way_of_not_connecting():
    assert agrees("does not connect", "refused", "connect") and agrees("does not connect", "blocked", "connect")
    assert not agrees("does not connect", "connects", "connect")
    assert agrees("NXDOMAIN", "NXDOMAIN", "resolve") and not agrees("resolves", "NXDOMAIN", "resolve")
    assert outcome(True, "connect") == "connects" and outcome(False, "connect") == "blocked"


def test_answer_keys_are_unique_and_well_formed(tmp_path):
    keys = load_answer_keys()
    assert {"pod-ports", "service-ports", "dns-names", "policy-union", "ingress-routes"} <= set(keys)
    (tmp_path / "a.yaml").write_text("q:\n  kind: connect\n  answers: {x: connects}\n")
    (tmp_path / "b.yaml").write_text("q:\n  kind: connect\n  answers: {x: refused}\n")
    with pytest.raises(SetupError, match="already used in lessons/answers/a.yaml"):
        load_answer_keys(tmp_path)
    (tmp_path / "b.yaml").write_text("r:\n  kind: ping\n  answers: {x: refused}\n")
    with pytest.raises(SetupError, match="needs kind"):
        load_answer_keys(tmp_path)
    (tmp_path / "b.yaml").write_text("r:\n  kind: resolve\n  answers: {x: connects}\n")
    with pytest.raises(SetupError, match="b.yaml: r: x: 'connects' is not one of"):
        load_answer_keys(tmp_path)
