"""Readiness diagnosis from API objects as the API server returns them, and the bounded wait."""

from __future__ import annotations

import pytest
from kubernetes.client.rest import ApiException

from grader.kube.readiness import (
    ingress_problem,
    load_balancer_problem,
    pod_problem,
    service_problem,
    wait_until_ready,
)


def pod(name="web-7d4b9c-x2x", ns="lesson2", labels=None, conditions=None, statuses=None, phase="Running", image="nginx:1.27"):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "web"}, "resourceVersion": "100"},
        "spec": {"containers": [{"name": "web", "image": image}], "nodeName": "course-worker"},
        "status": {"phase": phase, "conditions": conditions or [], "containerStatuses": statuses or []},
    }


READY = [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]
NOT_READY = [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]


def test_ready_pod_has_no_problem():
    assert pod_problem(pod(conditions=READY)) is None


def test_image_pull_backoff_names_the_image():
    p = pod(image="ngnix:1.27", phase="Pending", conditions=NOT_READY, statuses=[{
        "name": "web", "ready": False, "restartCount": 0, "image": "ngnix:1.27",
        "state": {"waiting": {"reason": "ImagePullBackOff",
                              "message": 'Back-off pulling image "ngnix:1.27": ErrImagePull: pull access denied'}},
    }])
    text = pod_problem(p)
    assert "Pod lesson2/web-7d4b9c-x2x" in text
    assert "cannot pull image 'ngnix:1.27' (ImagePullBackOff)" in text
    assert "grade cluster preload" in text


def test_crashloop_shows_the_last_log_lines():
    p = pod(conditions=NOT_READY, statuses=[{
        "name": "web", "ready": False, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
    }])
    calls = []

    def logs(ns, name, container):
        calls.append((ns, name, container))
        return "starting\nlisten tcp :80: bind: permission denied\n"

    text = pod_problem(p, logs)
    assert calls == [("lesson2", "web-7d4b9c-x2x", "web")]
    assert "keeps crashing (CrashLoopBackOff, 4 restarts, last exit code 1, Error)" in text
    assert "bind: permission denied" in text


def test_pending_pod_says_why_it_is_unschedulable():
    p = pod(phase="Pending", conditions=[{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
    }])
    text = pod_problem(p)
    assert "is Pending" in text and "didn't match Pod's node affinity/selector" in text


def test_running_but_unready_container_points_at_the_readiness_probe():
    p = pod(conditions=NOT_READY, statuses=[{"name": "web", "ready": False, "state": {"running": {}}}])
    assert "readinessProbe" in pod_problem(p)


def svc(selector=None, type_="ClusterIP", status=None, name="web"):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "lesson2"},
            "spec": {"type": type_, "selector": selector if selector is not None else {"app": "web"},
                     "ports": [{"port": 80}]},
            "status": status or {}}


def slice_(ready=True, name="web"):
    return {"metadata": {"name": f"{name}-abc", "namespace": "lesson2", "labels": {"kubernetes.io/service-name": name}},
            "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": ready}}]}


def test_service_with_ready_endpoints_has_no_problem():
    assert service_problem(svc(), [slice_()], [pod(conditions=READY)]) is None


def test_service_whose_selector_matches_nothing_shows_the_pods_labels():
    text = service_problem(svc({"app": "wbe"}), [], [pod(labels={"app": "web", "tier": "front"}, conditions=READY)])
    assert "Service lesson2/web has no endpoints: its selector app=wbe matches no pod" in text
    assert "app=web,tier=front" in text


def test_service_whose_pods_are_not_ready_says_so():
    text = service_problem(svc(), [slice_(ready=False)], [pod(conditions=NOT_READY)])
    assert "none of them Ready" in text


def test_loadbalancer_and_ingress_without_an_address():
    assert "no external IP" in load_balancer_problem(svc(type_="LoadBalancer"))
    assert load_balancer_problem(svc(type_="LoadBalancer", status={"loadBalancer": {"ingress": [{"ip": "172.18.0.9"}]}})) is None
    ing = {"metadata": {"name": "shop", "namespace": "lesson5"}, "spec": {"ingressClassName": "nginx"}, "status": {}}
    assert "ingressClassName 'nginx' is not served here" in ingress_problem(ing)
    ing["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.0.10"}]}}
    assert ingress_problem(ing) is None


class Source:
    """Scripted list/watch: each watch call pops the next script (a list of events, or an exception)."""

    def __init__(self, listed, watches):
        self.listed = listed
        self.watches = list(watches)
        self.lists = 0
        self.watch_rvs = []

    def list_pods(self, namespace):
        self.lists += 1
        return self.listed(self.lists), str(100 + self.lists)

    def watch_pods(self, namespace, resource_version, timeout_seconds):
        assert 1 <= timeout_seconds <= 10
        self.watch_rvs.append(resource_version)
        script = self.watches.pop(0) if self.watches else []
        if isinstance(script, Exception):
            raise script
        yield from script


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0
        return self.t


def test_wait_returns_when_a_watch_event_makes_the_pod_ready():
    src = Source(lambda n: [pod(conditions=NOT_READY)], [[{"type": "MODIFIED", "object": pod(conditions=READY)}]])
    assert wait_until_ready(src, "lesson2", 60, clock=Clock()) == []
    assert src.watch_rvs == ["101"]


def test_wait_relists_after_410_gone():
    gone = ApiException(status=410, reason="Expired: too old resource version: 101 (205)")
    src = Source(lambda n: [pod(conditions=READY if n == 2 else NOT_READY)], [gone])
    assert wait_until_ready(src, "lesson2", 60, clock=Clock()) == []
    assert src.lists == 2


def test_wait_is_bounded_and_reports_the_diagnosis():
    stuck = pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                              "message": "0/3 nodes are available: 1 Insufficient cpu."}])
    src = Source(lambda n: [stuck], [])
    problems = wait_until_ready(src, "lesson2", 5, clock=Clock())
    assert len(problems) == 1 and "Insufficient cpu" in problems[0]


def test_other_api_errors_are_not_swallowed():
    src = Source(lambda n: [pod(conditions=NOT_READY)], [ApiException(status=403, reason="Forbidden")])
    with pytest.raises(ApiException):
        wait_until_ready(src, "lesson2", 5, clock=Clock())
