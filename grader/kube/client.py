"""One place for the live grader's calls to the Kubernetes API (as kubemanager.go is upstream).

`KubeClient.connect` applies the context guard (grader.kube.safety); `apply` is server-side apply
through the DynamicClient with field manager "grade" and force_conflicts, so re-applying a learner's
edited manifest always wins over the previous apply; reads return plain dicts as the API sends them.
"""

from __future__ import annotations

import json
import os
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


class KubeError(SetupError):
    """An API call failed; the message names the object and the API's reason.

    `status` is the HTTP status of the API's answer (None when there was none), `reason` its message.
    """

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason or message


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

    def __init__(self, api_client: k8s.ApiClient, context: str = DEFAULT_CONTEXT) -> None:
        self.api_client = api_client
        self.context = context
        self.core = k8s.CoreV1Api(api_client)
        self._dynamic: DynamicClient | None = None

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
                raise KubeError(
                    f"the cluster does not serve {kind} in {api_version}; check apiVersion and kind "
                    "(for Gateway API kinds, is cloud-provider-kind running? see `grade cluster doctor`)"
                ) from None

    def apply(self, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Server-side apply `obj` (field manager "grade", force conflicts); returns the object as stored."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        body = json.loads(json.dumps(obj))  # a private copy: the API client may mutate it
        ns = namespace if res.namespaced else None
        if ns:
            body.setdefault("metadata", {})["namespace"] = ns
        try:
            out = self.dynamic.server_side_apply(
                res, body=body, namespace=ns, field_manager=FIELD_MANAGER, force_conflicts=True
            )
        except ApiException as exc:
            name = (obj.get("metadata") or {}).get("name")
            reason = api_reason(exc)
            raise KubeError(f"applying {obj['kind']} {name!r}: {reason}", status=exc.status, reason=reason) from None
        return out.to_dict() if hasattr(out, "to_dict") else dict(out)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object as a dict, or None when it does not exist."""
        res = self.resource(api_version, kind)
        try:
            return self.dynamic.get(res, name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return None

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects as dicts, in `namespace` (None: all namespaces, or cluster-scoped kinds)."""
        res = self.resource(api_version, kind)
        out = self.dynamic.get(res, namespace=namespace, label_selector=label_selector).to_dict()
        return list(out.get("items") or [])

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        """Delete one object; a missing object is fine."""
        res = self.resource(api_version, kind)
        try:
            self.dynamic.delete(res, name=name, namespace=namespace, propagation_policy="Background")
        except NotFoundError:
            pass

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
