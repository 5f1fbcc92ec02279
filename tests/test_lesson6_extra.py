"""Lesson 6: every break scenario's broken system fails what its symptom names, and its fix passes."""

from __future__ import annotations


import pytest

from grader.runner import grade_lesson
from grader.scenarios import ScenarioError, active_scenario, break_scenario, get_scenario, list_scenarios

SCENARIOS = list_scenarios()
TASKS = {"test_pod_to_pod", "test_service", "test_dns", "test_cross_namespace_name", "test_ingress", "test_tls"}


def test_the_issue_s_seven_problems_each_have_a_scenario():
    ids = {s.id for s in SCENARIOS}
    assert {
        "policy-blocks-pod",
        "no-endpoints",
        "wrong-targetport",
        "dns-egress",
        "dns-wrong-namespace",
        "ingress-wrong-port",
        "tls-secret-namespace",
    } <= ids


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_broken_system_fails_exactly_its_tasks(scenario):
    assert scenario.task in scenario.fails and set(scenario.fails) <= TASKS
    report = grade_lesson("lesson6", scenario.broken_files(), backend="sim")
    assert report.setup_error is None, report.setup_error
    assert sorted(report.failed_ids()) == sorted(scenario.fails)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_fixed_system_passes_every_task(scenario):
    report = grade_lesson("lesson6", [scenario.fixed_dir], backend="sim")
    assert report.setup_error is None, report.setup_error
    assert report.failed_ids() == [] and {t.id for t in report.tasks} == TASKS


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_scenario_tells_a_symptom_and_three_hints_without_naming_the_fix_first(scenario):
    assert scenario.symptom and scenario.title
    assert len(scenario.hints) == 3 and len(set(scenario.hints)) == 3
    # the vague hint must not already be the most specific one
    assert len(scenario.hints[0]) <= len(scenario.hints[2]) + 40


def test_break_backs_up_the_workspace_and_loads_the_broken_system(tmp_path):
    work = tmp_path / "work" / "lesson6"
    work.mkdir(parents=True)
    (work / "mine.yaml").write_text("# my own attempt\n")
    break_scenario("dns-egress", work)
    scenario = get_scenario("dns-egress")
    assert sorted(p.name for p in work.glob("*.yaml")) == sorted(p.name for p in scenario.broken_files())
    backups = list((tmp_path / "work" / ".backup").iterdir())
    assert len(backups) == 1 and (backups[0] / "mine.yaml").read_text() == "# my own attempt\n"
    assert active_scenario(work).id == "dns-egress"
    # the workspace now grades as the broken system
    report = grade_lesson("lesson6", [work], backend="sim")
    assert sorted(report.failed_ids()) == sorted(scenario.fails)
    # breaking again keeps the previous state too (a second backup)
    break_scenario("tls-secret-namespace", work)
    assert len(list((tmp_path / "work" / ".backup").iterdir())) == 2
    assert active_scenario(work).id == "tls-secret-namespace"


def test_fixing_the_broken_workspace_by_hand_passes(tmp_path):
    work = tmp_path / "lesson6"
    break_scenario("dns-wrong-namespace", work)
    cfg = work / "frontend-config.yaml"
    cfg.write_text(cfg.read_text().replace("WEB_HOST: web\n", "WEB_HOST: web.lesson6\n"))
    assert grade_lesson("lesson6", [work], backend="sim").failed_ids() == []


def test_unknown_scenario_names_the_known_ones(tmp_path):
    with pytest.raises(ScenarioError, match="no-endpoints"):
        break_scenario("no-such-thing", tmp_path / "w")
    with pytest.raises(ScenarioError):
        get_scenario("../lesson5")
    assert not (tmp_path / "w").exists()


def test_hint_for_dns_scenario_names_kube_dns():
    scenario = get_scenario("dns-egress")
    report = grade_lesson("lesson6", scenario.broken_files(), backend="sim")
    failure = next(t.failure for t in report.tasks if t.id == "test_dns")
    assert any("kube-dns" in h for h in failure["hints"])


# ---- every scenario is gradable live, inside the lesson's namespaces (issue 10, section 3, item 5) ----------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_every_scenario_stays_inside_the_lessons_namespaces(scenario):
    """The live grader applies nothing outside lesson6 and lesson6-frontend (safety): a scenario that reached
    outside them could not be graded live at all."""
    from grader.kube.safety import check_manifests_allowed
    from grader.lessons import load_lesson
    from grader.manifests import load

    namespaces = list(load_lesson("lesson6").namespaces)
    for files in (scenario.broken_files(), sorted(scenario.fixed_dir.glob("*.yaml"))):
        assert check_manifests_allowed(load(files, namespace="lesson6"), namespaces) == []


def test_the_tls_secret_scenario_applies_live_with_the_secret_beside_the_ingress_not_in_it(private_state):
    from fake_apiserver import FakeApiServer
    from kubernetes import client as k8s

    from grader.backends.live import LiveBackend
    from grader.kube.client import KubeClient
    from grader.manifests import load

    scenario = get_scenario("tls-secret-namespace")
    with FakeApiServer() as api:
        cfg = k8s.Configuration()
        cfg.host = api.url
        backend = LiveBackend(KubeClient(k8s.ApiClient(cfg), "kind-course"), "lesson6", ["lesson6", "lesson6-frontend"],
                              ready_timeout=1)
        backend.apply(load(scenario.broken_files(), namespace="lesson6"))  # before: refused ("namespace 'default'")
        assert api.get("Secret", "shop-tls", "lesson6-frontend") is not None
        assert api.get("Secret", "shop-tls", "lesson6") is None
        assert api.get("Ingress", "shop", "lesson6", "networking.k8s.io") is not None


def test_the_refusal_of_an_object_outside_the_lesson_does_not_state_the_fix():
    from grader.kube.safety import check_manifests_allowed
    from grader.manifests import load_text

    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: shop-tls\n  namespace: default\ntype: Opaque\n"
    (problem,) = check_manifests_allowed(load_text(secret, "work/lesson6/shop-tls.yaml", namespace="lesson6"),
                                         ["lesson6", "lesson6-frontend"])
    assert problem.startswith("work/lesson6/shop-tls.yaml:1: Secret 'shop-tls' is in namespace 'default', outside this lesson")
    assert "Change metadata.namespace" not in problem and "leave it out" not in problem
    assert "--sim" in problem
