"""Lesson 4: the expected tables the learner reads are the ones the grader checks, and failures show them."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

from grader.runner import grade_lesson

LESSON = Path(__file__).resolve().parent.parent / "exercises" / "lesson4"


def _checks():
    spec = importlib.util.spec_from_file_location("lesson4_checks", LESSON / "test_lesson4.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_prints_every_expected_table_of_the_checks():
    mod = _checks()
    readme = re.sub(r"\s+", " ", (LESSON / "README.md").read_text())
    tables = [mod.ALLOW_SPECIFIC_TRAFFIC, mod.DEFAULT_DENY_INGRESS, mod.EGRESS_CLIENT, *mod.EGRESS_DNS_ELSEWHERE.values(), mod.FROM_MONITORING,
              mod.AND_PEER, mod.OR_PEERS, mod.IPBLOCK_EXCEPT, *mod.PORT_RANGE.values()]
    for t in tables:
        assert re.sub(r"\s+", " ", t.strip()) in readme


def test_failed_table_marks_the_differing_cells(tmp_path):
    work = tmp_path / "work"
    shutil.copytree(LESSON / "solution", work)
    (work / "allow-from-monitoring.yaml").write_text(
        (work / "allow-from-monitoring.yaml").read_text().replace(
            "    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: monitoring",
            "    - namespaceSelector: {}",
        )
    )
    report = grade_lesson("lesson4", [work], backend="sim")
    failure = next(t.failure for t in report.tasks if t.id == "test_allow_from_monitoring")
    observed = failure["table"].split("observed")[1]
    assert re.search(r"lesson4/untrusted\s+!\.", observed) and re.search(r"monitoring/prometheus\s+\.", observed)
    assert "2 of 4 connections differ" in failure["observed"]


def test_without_any_policy_everything_connects_and_every_task_fails(tmp_path):
    report = grade_lesson("lesson4", [tmp_path], backend="sim")
    assert report.setup_error is None
    assert set(report.failed_ids()) == {t for t, _ in report_tasks()}


def report_tasks():
    from grader.lessons import load_lesson

    return load_lesson("lesson4").tasks()


def test_fake_dns_really_listens_on_53_so_blocked_means_a_policy():
    """Without policies egress-client reaches fake-dns on UDP and TCP 53: its X in the DNS table is a policy's doing."""
    from grader.lab import Lab

    lab = Lab.open([LESSON / "fixtures"], namespace="lesson4")
    for protocol in ("UDP", "TCP"):
        table = lab.reachability(["egress-client"], ["lesson4-other/fake-dns"], 53, True, protocol=protocol)
        assert not table.differences(), table.render()
        assert table.results[("lesson4/egress-client", "lesson4-other/fake-dns")].verdict == "allowed"


def test_udp_53_to_anywhere_fails_the_dns_task_naming_both_problems(tmp_path):
    """The answer a new user wrote: `- ports: [{protocol: UDP, port: 53}]`, no `to:`, no TCP 53."""
    work = tmp_path / "work"
    shutil.copytree(LESSON / "solution", work)
    (work / "egress-client.yaml").write_text(
        (work / "egress-client.yaml").read_text().replace(
            "  - to:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: kube-system\n"
            "      podSelector:\n        matchLabels:\n          k8s-app: kube-dns\n    ports:\n"
            "    - protocol: UDP\n      port: 53\n    - protocol: TCP\n      port: 53\n",
            "  - ports:\n    - protocol: UDP\n      port: 53\n",
        )
    )
    report = grade_lesson("lesson4", [work], backend="sim")
    assert report.failed_ids() == ["test_default_deny_egress_keeps_dns"]
    hints = " ".join(next(t.failure for t in report.tasks if not t.passed)["hints"])
    assert "allow UDP 53 but not TCP 53" in hints
    assert "restrict the rule to namespace kube-system, pods k8s-app: kube-dns" in hints
