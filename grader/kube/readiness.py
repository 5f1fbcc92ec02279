"""Wait until a lesson's objects are ready, and when they are not, say which object and why.

The diagnosis functions are pure: API objects in (dicts as the API returns them), one sentence out,
naming the object, the reason, and what to do next. `wait_until_ready` lists pods, then watches them
with bounded timeouts, re-listing when the watch's resourceVersion is too old (410 Gone).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes.client.rest import ApiException

PULL_REASONS = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull")
LogsFn = Callable[[str, str, str], str]  # (namespace, pod, container) -> last log lines of the previous run


def _meta(obj: dict[str, Any]) -> tuple[str, str]:
    m = obj.get("metadata") or {}
    return m.get("namespace") or "", m.get("name") or "?"


def _condition(obj: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def pod_is_ready(pod: dict[str, Any]) -> bool:
    """The pod's Ready condition is "True"."""
    c = _condition(pod, "Ready")
    return bool(c) and c.get("status") == "True"


def pod_problem(pod: dict[str, Any], logs: LogsFn | None = None) -> str | None:
    """Why this pod is not Ready (None when it is), in one learner-readable paragraph."""
    if pod_is_ready(pod):
        return None
    ns, name = _meta(pod)
    who = f"Pod {ns}/{name}"
    status = pod.get("status") or {}
    spec_images = {c.get("name"): c.get("image") for c in
                   (pod.get("spec") or {}).get("containers", []) + (pod.get("spec") or {}).get("initContainers", [])}
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        why = scheduled.get("message") or scheduled.get("reason") or "no reason given"
        return (f"{who} is Pending: the scheduler cannot place it ({scheduled.get('reason', 'Unschedulable')}): {why}. "
                "Check its nodeSelector, affinity, tolerations and resource requests.")
    statuses = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    for cs in statuses:
        cname = cs.get("name", "?")
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in PULL_REASONS:
            image = cs.get("image") or spec_images.get(cname) or "?"
            msg = waiting.get("message", "")
            return (f"{who}: container {cname!r} cannot pull image {image!r} ({reason}){': ' + msg if msg else ''}. "
                    "Check the image name and tag; on a slow or offline network run `grade cluster preload`.")
        if reason == "CrashLoopBackOff":
            last = (cs.get("lastState") or {}).get("terminated") or {}
            code = last.get("exitCode")
            text = (f"{who}: container {cname!r} keeps crashing (CrashLoopBackOff, {cs.get('restartCount', 0)} "
                    f"restarts{', last exit code ' + str(code) if code is not None else ''}"
                    f"{', ' + last['reason'] if last.get('reason') else ''}).")
            lines = (logs(ns, name, cname) if logs else "").strip().splitlines()[-5:]
            if lines:
                text += " Last log lines:\n" + "\n".join(f"    {line}" for line in lines)
            else:
                text += f" See `kubectl logs -n {ns} {name} -c {cname} --previous`."
            return text
        if reason in ("CreateContainerConfigError", "CreateContainerError", "RunContainerError"):
            return f"{who}: container {cname!r} cannot start ({reason}): {waiting.get('message', 'no message')}."
    for cs in statuses:
        terminated = (cs.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0:
            return (f"{who}: container {cs.get('name')!r} exited with code {terminated.get('exitCode')} "
                    f"({terminated.get('reason', 'Error')}). See `kubectl logs -n {ns} {name} -c {cs.get('name')}`.")
    for cs in statuses:
        if "running" in (cs.get("state") or {}) and not cs.get("ready"):
            return (f"{who}: container {cs.get('name')!r} is running but not Ready: its readinessProbe fails. "
                    f"See `kubectl describe pod -n {ns} {name}` (Events).")
    phase = status.get("phase", "Pending")
    waiting = [((cs.get("state") or {}).get("waiting") or {}).get("reason") for cs in statuses]
    detail = f" ({', '.join(filter(None, waiting))})" if any(waiting) else ""
    return f"{who} is {phase} and not Ready yet{detail}. See `kubectl describe pod -n {ns} {name}`."


def _selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def service_problem(
    service: dict[str, Any], endpoint_slices: Iterable[dict[str, Any]], pods: Iterable[dict[str, Any]]
) -> str | None:
    """Why a Service with a selector has no ready endpoints (None when it has some, or has no selector)."""
    spec = service.get("spec") or {}
    selector = spec.get("selector")
    if spec.get("type") == "ExternalName" or not selector:
        return None
    ns, name = _meta(service)
    slices = [s for s in endpoint_slices if _labels(s).get("kubernetes.io/service-name") == name
              and _meta(s)[0] in ("", ns)]
    for s in slices:
        for ep in s.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready", True) is not False:
                return None
    matching = [p for p in pods if _meta(p)[0] == ns and all(_labels(p).get(k) == v for k, v in selector.items())]
    who = f"Service {ns}/{name}"
    if not matching:
        seen = sorted({_selector_text(_labels(p)) for p in pods if _meta(p)[0] == ns} - {""})
        hint = f" Pods in {ns} have labels: {'; '.join(seen[:5])}." if seen else f" There are no pods in {ns}."
        return (f"{who} has no endpoints: its selector {_selector_text(selector)} matches no pod.{hint} "
                "Make the selector equal to the pod template's labels.")
    ready = [p for p in matching if pod_is_ready(p)]
    if not ready:
        return (f"{who} has no ready endpoints: its selector matches {len(matching)} pod(s), none of them Ready "
                f"(e.g. {_meta(matching[0])[1]}).")
    return (f"{who} has no ready endpoints although {len(ready)} matching pod(s) are Ready: check that targetPort "
            "names a port the pods declare.")


def _lb_ingress(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []


def load_balancer_address(obj: dict[str, Any]) -> str | None:
    """The first IP (or hostname) in a Service's or Ingress's status.loadBalancer.ingress."""
    for entry in _lb_ingress(obj):
        if entry.get("ip") or entry.get("hostname"):
            return entry.get("ip") or entry.get("hostname")
    return None


def load_balancer_problem(service: dict[str, Any]) -> str | None:
    """Why a LoadBalancer Service has no external address (None when it has one or is another type)."""
    if (service.get("spec") or {}).get("type") != "LoadBalancer" or load_balancer_address(service):
        return None
    ns, name = _meta(service)
    return (f"Service {ns}/{name} (type LoadBalancer) has no external IP yet. On kind, cloud-provider-kind "
            "assigns it: is it running? Run `grade cluster doctor` (fix: `grade cluster up` starts it).")


def ingress_problem(ingress: dict[str, Any], default_class: str = "cloud-provider-kind") -> str | None:
    """Why an Ingress has no address (None when it has one)."""
    if load_balancer_address(ingress):
        return None
    ns, name = _meta(ingress)
    cls = (ingress.get("spec") or {}).get("ingressClassName")
    if cls and cls != default_class:
        why = f"its ingressClassName {cls!r} is not served here (the course's controller serves {default_class!r})"
    else:
        why = "the ingress controller (cloud-provider-kind) has not published an address: is it running?"
    end = "" if why.endswith("?") else "."  # no "?." after a question
    return f"Ingress {ns}/{name} has no address yet: {why}{end} Run `grade cluster doctor`."


class PodSource(Protocol):
    """What `wait_until_ready` needs from the API (KubePodSource adapts a KubeClient)."""

    def list_pods(self, namespace: str) -> tuple[list[dict[str, Any]], str]: ...

    def watch_pods(self, namespace: str, resource_version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]: ...


@dataclass
class KubePodSource:
    """List and watch pods through the client's CoreV1Api, returning raw dicts."""

    core: Any

    def list_pods(self, namespace: str) -> tuple[list[dict[str, Any]], str]:
        import json

        resp = self.core.list_namespaced_pod(namespace, _preload_content=False)
        data = json.loads(resp.data)
        return list(data.get("items") or []), (data.get("metadata") or {}).get("resourceVersion", "")

    def watch_pods(self, namespace: str, resource_version: str, timeout_seconds: int) -> Iterator[dict[str, Any]]:
        from kubernetes import watch

        # Deserializing is what makes the client raise ApiException(410) on an expired resourceVersion
        # (with deserialize=False it fails with KeyError 'raw_object'); we still hand on the raw dict.
        for event in watch.Watch().stream(self.core.list_namespaced_pod, namespace, resource_version=resource_version,
                                          timeout_seconds=timeout_seconds):
            yield {"type": event["type"], "object": event["raw_object"]}


def wait_until_ready(
    source: PodSource,
    namespace: str,
    timeout: float = 120.0,
    *,
    logs: LogsFn | None = None,
    clock: Callable[[], float] = time.monotonic,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Wait up to `timeout` s until every pod in `namespace` is Ready; return the problems left (empty: ready)."""
    deadline = clock() + timeout
    pods: dict[str, dict[str, Any]] = {}
    rv = ""
    relist = True
    while True:
        if relist:
            items, rv = source.list_pods(namespace)
            pods = {_meta(p)[1]: p for p in items}
            relist = False
        if on_progress:
            on_progress(sum(pod_is_ready(p) for p in pods.values()), len(pods))
        if pods and all(pod_is_ready(p) for p in pods.values()):
            return []
        remaining = deadline - clock()
        if remaining <= 0:
            break
        try:
            for event in source.watch_pods(namespace, rv, max(1, min(int(remaining), 10))):
                obj = event.get("object") or {}
                name = _meta(obj)[1]
                rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                if event.get("type") == "DELETED":
                    pods.pop(name, None)
                else:
                    pods[name] = obj
                if pods and all(pod_is_ready(p) for p in pods.values()):
                    return []
                if clock() >= deadline:
                    break
        except ApiException as exc:
            if exc.status == 410:  # our resourceVersion is too old: list again
                relist = True
                continue
            raise
    if not pods:
        return [f"no pods appeared in namespace {namespace} within {timeout:.0f} s: "
                "check the Deployments' events (`kubectl get events -n " + namespace + "`)."]
    return [p for p in (pod_problem(pod, logs) for pod in pods.values()) if p]
