"""One place for the live grader's calls to the Kubernetes API (as kubemanager.go is upstream).

`KubeClient.connect` applies the context guard (grader.kube.safety); `apply` is server-side apply
through the DynamicClient with field manager "grade" and force_conflicts, so re-applying a learner's
edited manifest always wins over the previous apply; reads return plain dicts as the API sends them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3
import yaml

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from grader.checks import SetupError
from grader.kube.exec import ExecResult, run_exec
from grader.kube.safety import (
    DEFAULT_CONTEXT,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    CourseContexts,
    UnsafeTargetError,
    check_context_allowed,
    is_course_owned,
    lesson_namespace_labels,
    state_dir,
)

FIELD_MANAGER = "grade"

# Answers that say "not now" rather than "not this": a conflicting write, throttling, a busy or restarting API
# server. The client retries them with growing pauses (or the server's Retry-After) before giving up.
TRANSIENT_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0)  # seconds before each retry: 7.5 s in all
NAMESPACE_GONE_TIMEOUT = 120.0  # seconds to wait for a namespace deleted a moment ago to finish terminating


class KubeError(SetupError):
    """An API call failed; the message names the object and the API's reason.

    `status` is the HTTP status of the API's answer (None when there was none), `reason` its message.
    `transient`: the API answered "not now" (TRANSIENT_STATUSES) even after the retries; `ours`: the failure
    is the cluster's or the grader's, not something in the learner's files (no learner advice fits it).
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str = "", transient: bool | None = None,
                 ours: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason or message
        self.transient = status in TRANSIENT_STATUSES if transient is None else transient
        self.ours = ours


def is_terminating(obj: dict[str, Any] | None) -> bool:
    """Whether an object (typically a Namespace) is being deleted: it has a deletionTimestamp."""
    return bool(obj) and bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def retry_after(exc: ApiException) -> float | None:
    """The server's Retry-After (seconds) on a 429 or 503, when it sent one."""
    headers = getattr(exc, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return min(float(value), 10.0) if value is not None else None
    except (TypeError, ValueError):
        return None


def kubeconfig_paths(kubeconfig: str | None = None) -> list[Path]:
    """The kubeconfig files in effect: `kubeconfig`, else $KUBECONFIG's list, else ~/.kube/config."""
    spec = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
    return [Path(os.path.expanduser(p)) for p in spec.split(os.pathsep) if p]


def context_servers(kubeconfig: str | None = None) -> dict[str, str | None]:
    """Each context name -> the API server URL of its cluster, merged first-wins as kubectl does."""
    clusters: dict[str, str | None] = {}
    contexts: dict[str, str | None] = {}
    for path in kubeconfig_paths(kubeconfig):
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        for c in data.get("clusters") or []:
            clusters.setdefault(c.get("name"), (c.get("cluster") or {}).get("server"))
        for c in data.get("contexts") or []:
            contexts.setdefault(c.get("name"), (c.get("context") or {}).get("cluster"))
    return {name: clusters.get(cluster) for name, cluster in contexts.items()}


def context_server(context: str, kubeconfig: str | None = None) -> str | None:
    """The API server URL a kubeconfig context points at, or None when the context does not exist."""
    return context_servers(kubeconfig).get(context)


class KubeClient:
    """The API calls the live backend, the doctor and cleanup make, on one context."""

    def __init__(self, api_client: k8s.ApiClient, context: str = DEFAULT_CONTEXT, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        self.api_client = api_client
        self.context = context
        self.core = k8s.CoreV1Api(api_client)
        self._dynamic: DynamicClient | None = None
        self.sleep = sleep
        self.clock = clock
        self.retries: list[str] = []  # one line per transient answer that was retried (evidence for a report)
        self._server_version: str | None = None

    def _retrying(self, what: str, call: Callable[[], Any]) -> Any:
        """`call()`, retried after RETRY_PAUSES while the API answers with a transient status."""
        for attempt in range(len(RETRY_PAUSES) + 1):
            try:
                return call()
            except ApiException as exc:
                if exc.status not in TRANSIENT_STATUSES or attempt == len(RETRY_PAUSES):
                    raise
                pause = retry_after(exc) or RETRY_PAUSES[attempt]
                self.retries.append(f"{what}: HTTP {exc.status} ({api_reason(exc)}); retried after {pause:g} s")
                self.sleep(pause)
        raise AssertionError("unreachable")

    @classmethod
    def connect(
        cls, context: str | None = None, *, explicit: bool | None = None, kubeconfig: str | None = None,
        contexts: CourseContexts | None = None,
    ) -> KubeClient:
        """A client for `context` (default kind-course) after the safety check; raises UnsafeTargetError.

        `explicit` (default: a context was given) means the user named it with --context.
        """
        explicit = context is not None if explicit is None else explicit
        name = context or DEFAULT_CONTEXT
        server = context_server(name, kubeconfig)
        if server is None:
            raise UnsafeTargetError(
                f"kube context {name!r} does not exist in your kubeconfig. Run `grade cluster up` to create the "
                "course cluster (context kind-course)."
            )
        check_context_allowed(name, server, explicit, contexts or CourseContexts.default())
        paths = [str(p) for p in kubeconfig_paths(kubeconfig) if p.exists()]
        api_client = k8s_config.new_client_from_config(config_file=os.pathsep.join(paths), context=name)
        return cls(api_client, name)

    # ---- generic objects ----------------------------------------------------------------------

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            host = self.api_client.configuration.host.replace("://", "_").replace(":", "_").replace("/", "_")
            cache = state_dir() / "discovery" / f"{host}.json"
            cache.parent.mkdir(parents=True, exist_ok=True)
            self._dynamic = DynamicClient(self.api_client, cache_file=str(cache))
        return self._dynamic

    def resource(self, api_version: str, kind: str) -> Any:
        """The API resource for apiVersion/kind; re-discovers once when the cached discovery lacks it."""
        try:
            return self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            self.dynamic.resources.invalidate_cache()
            try:
                return self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                too_old = self.version_problem()
                if too_old:  # the cluster, not the learner's apiVersion
                    raise KubeError(f"the cluster does not serve {kind} in {api_version}: {too_old}",
                                    status=404, ours=True) from None
                raise KubeError(
                    f"the cluster does not serve {kind} in {api_version}; check apiVersion and kind "
                    "(for Gateway API kinds, is cloud-provider-kind running? see `grade cluster doctor`)",
                    status=404,
                ) from None

    def serves(self, api_version: str, kind: str) -> bool:
        """Whether the cluster serves this kind, from the discovery already read (no new discovery)."""
        try:
            self.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            return False
        except Exception:  # noqa: BLE001 - unreadable discovery: treat the kind as not served
            return False
        return True

    def server_version(self) -> str | None:
        """The API server's gitVersion (e.g. "v1.37.0"), read once from /version; None when unreadable."""
        if self._server_version is None:
            try:
                info = self._retrying("reading /version", lambda: k8s.VersionApi(self.api_client).get_code())
                self._server_version = str(info.git_version or "")
            except Exception:  # noqa: BLE001 - only the explanation depends on it
                return None
        return self._server_version or None

    def version_problem(self) -> str | None:
        """A plain sentence when the server is older than the course's pin (None when new enough or unknown)."""
        from grader.cluster.versions import server_version_problem

        version = self.server_version()
        return server_version_problem(version) if version else None

    def apply(self, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Server-side apply `obj` (field manager "grade", force conflicts); returns the object as stored."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        body = json.loads(json.dumps(obj))  # a private copy: the API client may mutate it
        ns = namespace if res.namespaced else None
        if ns:
            body.setdefault("metadata", {})["namespace"] = ns
        name = (obj.get("metadata") or {}).get("name")
        try:
            out = self._retrying(f"applying {obj['kind']} {name}", lambda: self.dynamic.server_side_apply(
                res, body=body, namespace=ns, field_manager=FIELD_MANAGER, force_conflicts=True
            ))
        except ApiException as exc:
            reason = api_reason(exc)
            raise KubeError(f"applying {obj['kind']} {name!r}: {reason}", status=exc.status, reason=reason) from None
        return out.to_dict() if hasattr(out, "to_dict") else dict(out)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object as a dict, or None when it does not exist."""
        res = self.resource(api_version, kind)
        try:
            return self._retrying(f"reading {kind} {name}", lambda: self.dynamic.get(res, name=name, namespace=namespace)).to_dict()
        except NotFoundError:
            return None

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects as dicts, in `namespace` (None: all namespaces, or cluster-scoped kinds)."""
        res = self.resource(api_version, kind)
        out = self._retrying(f"listing {kind}", lambda: self.dynamic.get(res, namespace=namespace, label_selector=label_selector))
        return list(out.to_dict().get("items") or [])

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
               propagation: str = "Background", grace_period: int | None = None) -> None:
        """Delete one object; a missing object is fine.

        `propagation` "Foreground" keeps the object until its dependents (a Deployment's pods) are gone, so
        waiting for it (`wait_gone`) waits for them too; `grace_period` overrides the pods' own.
        """
        res = self.resource(api_version, kind)
        try:
            self._retrying(f"deleting {kind} {name}", lambda: self.dynamic.delete(
                res, name=name, namespace=namespace, propagation_policy=propagation, grace_period_seconds=grace_period))
        except NotFoundError:
            pass

    def wait_gone(self, api_version: str, kind: str, name: str, namespace: str | None = None,
                  timeout: float = 90.0) -> bool:
        """Poll until the object no longer exists (True), or `timeout` seconds pass (False)."""
        deadline = self.clock() + timeout
        while self.get(api_version, kind, name, namespace) is not None:
            if self.clock() >= deadline:
                return False
            self.sleep(1.0)
        return True

    # ---- namespaces the grader owns -----------------------------------------------------------

    def ensure_lesson_namespace(self, name: str, lesson: str, labels: dict[str, str] | None = None) -> None:
        """Create (or re-label) the grader's namespace for `lesson`; refuse one the grader did not create.

        `labels` (from the lesson's Namespace manifest) are applied too, under the grader's own labels.
        """
        existing = self.get("v1", "Namespace", name)
        if existing is not None and not is_course_owned(existing):
            raise UnsafeTargetError(
                f"namespace {name!r} already exists and does not carry {MANAGED_BY_KEY}={MANAGED_BY_VALUE}: "
                "the grader did not create it and will not modify it. Delete it yourself "
                f"(`kubectl --context {self.context} delete namespace {name}`) or use another cluster."
            )
        if is_terminating(existing):
            # Deleted a moment ago (the last run's cleanup, a doctor run twice): nothing can be created in it
            # until it is gone ("being terminated"), so wait for it, then create it afresh.
            if not self.wait_gone("v1", "Namespace", name, timeout=NAMESPACE_GONE_TIMEOUT):
                raise KubeError(
                    f"namespace {name!r} is still being deleted {NAMESPACE_GONE_TIMEOUT:.0f} s after an earlier run "
                    f"deleted it, so the grader cannot create anything in it yet. Something in it is slow to go: "
                    f"`kubectl --context {self.context} get all -n {name}`; grade again once "
                    f"`kubectl --context {self.context} get namespace {name}` says NotFound.",
                    status=409, transient=False, ours=True)
        self.apply(
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": name, "labels": lesson_namespace_labels(lesson, labels)}}
        )

    def owned_namespaces(self, lesson: str | None = None) -> list[str]:
        """Names of the namespaces carrying the grader's labels (for `lesson`, when given)."""
        selector = f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}"
        return sorted(
            ns["metadata"]["name"]
            for ns in self.list("v1", "Namespace", label_selector=selector)
            if is_course_owned(ns, lesson)
        )

    # ---- pods ---------------------------------------------------------------------------------

    def exec(
        self, namespace: str, pod: str, command: list[str], *, container: str | None = None, timeout: float = 10.0
    ) -> ExecResult:
        """Run argv `command` in the pod; see grader.kube.exec.run_exec.

        Each exec gets its own ApiClient: `kubernetes.stream.stream` swaps the client's `call_api` for a
        websocket one while it runs, so on a shared client parallel probes would send ordinary API calls
        over websockets (and could leave the swap in place).
        """
        api_client = k8s.ApiClient(self.api_client.configuration)
        try:
            return run_exec(k8s.CoreV1Api(api_client), namespace, pod, command, container=container, timeout=timeout)
        finally:
            api_client.close()

    def pod_logs(self, namespace: str, pod: str, container: str | None = None, tail: int = 10,
                 previous: bool = False) -> str:
        """The last `tail` log lines of a container ("" when unavailable)."""
        kwargs: dict[str, Any] = {"tail_lines": tail, "previous": previous}
        if container:
            kwargs["container"] = container
        try:
            return str(self.core.read_namespaced_pod_log(pod, namespace, **kwargs) or "")
        except ApiException:
            return ""

    def readyz(self, timeout: float = 2.0) -> tuple[bool, str]:
        """Whether the API server answers /readyz within `timeout` seconds, and why not."""
        try:
            method, url, headers, _, _ = self.api_client.param_serialize("GET", "/readyz", auth_settings=["BearerToken"])
            # retries=False: urllib3 would retry a GET that timed out three more times, four timeouts in all
            resp = self.api_client.rest_client.pool_manager.request(
                method, url, headers=headers, timeout=urllib3.Timeout(total=timeout), retries=False)
            if 200 <= resp.status < 300:
                return True, ""
            return False, f"/readyz answered HTTP {resp.status}"
        except Exception as exc:  # connection refused, TLS, timeout: all mean "not reachable"
            return False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def api_reason(exc: ApiException) -> str:
    """The API server's message from an ApiException (body is a JSON Status string in 37.x)."""
    body = exc.body
    if isinstance(body, (bytes, bytearray)):
        body = body.decode(errors="replace")
    if isinstance(body, str):
        try:
            status = json.loads(body)
            if isinstance(status, dict) and status.get("message"):
                return str(status["message"])
        except ValueError:
            pass
    return f"HTTP {exc.status} {exc.reason}"
