"""LiveBackend: apply a lesson's manifests to the course's kind cluster and probe it with real packets.

Same interface as the simulator backend (grader.probes.Backend), so one check runs on both.
- apply: refuses cluster-scoped or out-of-lesson objects first, then server-side applies (field manager
  "grade") into namespaces the grader creates and labels, then waits for readiness with a bounded timeout
  and keeps a diagnosis per object that is not ready (`readiness_problems`).
- run: a bounded pool of workers execs probes in the source pods. A Connect expected to connect is retried
  every second for up to ~10 s (policy programming is asynchronous); one expected to be blocked that was
  blocked is probed again to confirm. Every failed result carries the command that reproduces it.
- Resolve runs `dig` in the source pod itself (course client pods are agnhost, which ships dig), so the
  lookup uses that pod's resolv.conf and is subject to its egress policy, exactly like the application's
  lookups; the answer is compared with the ClusterIP or ready endpoint IPs read from the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kubernetes.client.exceptions import ApiException

from grader.checks import SetupError
from grader.kube.client import (
    FIELD_MANAGER,
    KubeClient,
    KubeError,
    api_reason,
    context_server,
    context_servers,
    kubeconfig_paths,
)
from grader.kube.lookup import (
    choose_service,
    ingress_backends,
    ingress_for,
    is_ip,
    pods_with_ips,
    ready_endpoint_pods,
    rule_host_matches,
    service_by_cluster_ip,
    service_by_node_port,
    service_for_host,
    service_name_in_fqdn,
    services_selecting,
)
from grader.kube.readiness import (
    KubePodSource,
    ingress_problem,
    load_balancer_address,
    load_balancer_problem,
    pod_is_ready,
    service_problem,
    wait_until_ready,
)
from grader.kube.safety import DEFAULT_CONTEXT, WORKSHOP_KEY, CourseContexts, UnsafeTargetError, check_manifests_allowed
from grader.live_probes import (
    HttpOutcome,
    classify_connect,
    classify_resolve,
    clientip_command,
    connect_command,
    curl_command,
    host_can_route_to_kind,
    http_get,
    kubectl_exec,
    lookup_command,
    outside_endpoint,
    parse_clientip,
    resolve_command,
)
from grader.model.objects import CLUSTER_DOMAIN, ContainerPort, Pod
from grader.probes import ClientIP, Connect, Http, Probe, Resolve, Result, kubectl_for

POLICY_PROOF_LESSON = "policy-proof"  # netcourse/lesson label of the proof's scratch namespace
RETRY_FOR_SECONDS = 10.0
RETRY_EVERY_SECONDS = 1.0
REPLACE_TIMEOUT = 90.0  # seconds to wait for a replaced or pruned object (and its pods) to be gone
# Kinds the grader may have applied into a lesson's namespace, checked for leftovers after every apply
# (besides the kinds of the manifests themselves). Kinds the cluster does not serve are skipped.
PRUNED_KINDS = (
    ("v1", "Pod"), ("v1", "Service"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "ServiceAccount"),
    ("v1", "Endpoints"), ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
    ("apps/v1", "ReplicaSet"), ("batch/v1", "Job"), ("networking.k8s.io/v1", "NetworkPolicy"),
    ("networking.k8s.io/v1", "Ingress"), ("discovery.k8s.io/v1", "EndpointSlice"),
    ("gateway.networking.k8s.io/v1", "Gateway"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
    ("gateway.networking.k8s.io/v1", "GRPCRoute"), ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
)
# How the API says that an update may not change a field in place (apimachinery's ValidateImmutableField,
# the Pod and StatefulSet update validations).
IMMUTABLE_MARKERS = (
    "field is immutable", "may not change once set", "pod updates may not change fields",
    "updates to statefulset spec for fields other than", "updates to daemonset spec", "is immutable",
)
POLICY_NOT_ENFORCED = (
    "NetworkPolicy is not enforced on this cluster (kindnet fails open, known on WSL2), so a connection "
    "the policy should block gets through; recreate with `grade cluster up --profile calico`."
)


class ManifestsRefused(SetupError):
    """Learner manifests the live grader will not apply; `problems` has one message per object."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the grader refuses to apply these manifests:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def live_backend_available(context: str | None = None, kubeconfig: str | None = None,
                           contexts: CourseContexts | None = None, timeout: float = 2.0) -> tuple[bool, str]:
    """Whether the course cluster answers (default context kind-course), and the reason when it does not."""
    name = context or DEFAULT_CONTEXT
    if not any(p.exists() for p in kubeconfig_paths(kubeconfig)):
        return False, "no kubeconfig found (~/.kube/config or $KUBECONFIG): run `grade cluster up` to create the course cluster"
    servers = context_servers(kubeconfig)
    if name not in servers:
        return False, f"kube context {name!r} not found in your kubeconfig: run `grade cluster up`"
    try:
        client = KubeClient.connect(context, kubeconfig=kubeconfig, contexts=contexts)
    except UnsafeTargetError as exc:
        return False, str(exc)
    except Exception as exc:  # unreadable credentials and the like
        return False, f"cannot load kube context {name!r}: {exc}"
    ok, why = client.readyz(timeout=timeout)
    if not ok:
        return False, (f"the API server of {name!r} ({servers[name]}) did not answer within {timeout:g} s ({why}); "
                       "is Docker running? See `grade cluster status`.")
    return True, f"{name} at {context_server(name, kubeconfig)}"


class LiveBackend:
    """Probes on the real course cluster, through one KubeClient."""

    name = "live"

    def __init__(
        self,
        client: KubeClient | None = None,
        lesson: str | None = None,
        namespaces: list[str] | None = None,
        *,
        context: str | None = None,
        workers: int = 3,
        ready_timeout: float = 120.0,
        runner: Any = None,
        engine: str = "docker",
        policy_enforced: bool | None = None,
        published_facts_namespace: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`client` defaults to the course context (or `context`, named by the user: see KubeClient.connect).

        `namespaces` are the only ones the backend touches; when not given, they are the namespaces the
        manifests name (each still refused if it exists without the grader's label). `lesson` labels
        them (default: the first namespace). `policy_enforced` defaults to the doctor's last verdict.
        `published_facts_namespace` (a workshop learner's `<learner>-home`): where `grade workshop setup`
        published the cluster's NetworkPolicy verdict, which a learner cannot prove without namespace rights,
        and the node address NodePort probes go to, which a learner cannot look up without listing Nodes.
        """
        self.client = client if client is not None else _connect(context)
        self.lesson = lesson
        self.namespaces = list(namespaces or ([lesson] if lesson else []))
        self.workers = workers
        self.ready_timeout = ready_timeout
        self.runner = runner
        self.engine = engine
        self.policy_enforced = policy_enforced if policy_enforced is not None else _remembered_policy(self.client.context)
        self.published_facts_namespace = published_facts_namespace
        self.readiness_problems: list[str] = []
        self.replaced: list[str] = []  # objects the last apply deleted and re-created (an immutable field changed)
        self.pruned: list[str] = []  # objects the last apply deleted because no manifest names them any more
        self._node_entry: tuple[str, str] | None = None  # (address, where it came from), found once per backend
        self._sleep = sleep
        self._clock = clock

    # ---- apply --------------------------------------------------------------------------------

    def apply(self, manifests: list[Any]) -> None:
        """Check, then server-side apply the manifests into the lesson's namespaces, then wait for readiness.

        A Namespace manifest of the lesson is not applied as such: its labels go onto the namespace the
        grader creates, under the grader's own labels. Raises SetupError subclasses (ManifestsRefused,
        UnsafeTargetError, KubeError) whose message names the object, its file:line and the fix.
        """
        if not self.namespaces:
            named = {m.namespace for m in manifests if m.namespace} | {m.name for m in manifests if m.kind == "Namespace"}
            self.namespaces = sorted(named)
        if not self.namespaces:
            raise ManifestsRefused(["no namespace: pass the lesson's namespaces to LiveBackend"])
        problems = check_manifests_allowed(manifests, self.namespaces)
        if problems:
            raise ManifestsRefused(problems)
        lesson = self.lesson or self.namespaces[0]
        declared = {m.name: m for m in manifests if m.kind == "Namespace"}
        for ns in self.namespaces:
            m = declared.get(ns)
            labels = ((m.obj.get("metadata") or {}).get("labels") or {}) if m is not None else {}
            try:
                self.client.ensure_lesson_namespace(ns, lesson, labels)
            except KubeError as exc:
                raise KubeError(_rejection(exc, "Namespace", ns, m), status=exc.status, reason=exc.reason) from None
        self.replaced = []
        for m in manifests:
            if m.kind == "Namespace":
                continue  # applied above, as the grader's labelled namespace
            ns = m.namespace or self.namespaces[0]
            try:
                self._apply_one(m, ns)
            except KubeError as exc:
                raise KubeError(_rejection(exc, m.kind, m.name, m), status=exc.status, reason=exc.reason,
                                transient=exc.transient, ours=exc.ours or is_graders_own(m)) from None
        self.pruned, left = self._prune(manifests)
        self.readiness_problems = self._wait_ready() + left

    def _apply_one(self, m: Any, ns: str) -> None:
        """Apply one manifest; when the cluster refuses because a field that cannot change in place changed
        since the last grading (a Pod's spec, a Service's clusterIP, a StatefulSet's serviceName...), delete the
        grader's old object and create it afresh, as `kubectl replace --force` would."""
        try:
            self.client.apply(m.obj, namespace=ns)
            return
        except KubeError as exc:
            if not is_immutable_change(exc):
                raise
            api_version = m.obj.get("apiVersion", "")
            old = self.client.get(api_version, m.kind, m.name, ns)
            if ns not in self.namespaces or old is None or not applied_by_grader(old):
                raise  # not ours to replace: the message stands
            self.client.delete(api_version, m.kind, m.name, ns, propagation="Foreground", grace_period=1)
            if not self.client.wait_gone(api_version, m.kind, m.name, ns, timeout=REPLACE_TIMEOUT):
                raise KubeError(f"{m.kind} {ns}/{m.name} had to be replaced (a field that cannot change in place "
                                f"changed: {exc.reason}), but the old one was still being deleted after "
                                f"{REPLACE_TIMEOUT:.0f} s; grade again in a moment", status=409, transient=False,
                                ours=True) from None
        self.client.apply(m.obj, namespace=ns)
        self.replaced.append(f"{m.kind} {ns}/{m.name}")

    def _prune(self, manifests: list[Any]) -> tuple[list[str], list[str]]:
        """Delete what the grader applied earlier in the lesson's namespaces and the manifests no longer name
        (a policy removed from the learner's files must not keep "passing"), and wait until it is gone.

        Only objects with the grader's own apply in their managedFields are touched: never one a controller
        made (a Deployment's pods, EndpointSlices) or one someone created by hand, and never what
        `grade workshop setup` put into a learner's namespace (labelled netcourse/workshop: the isolation policy).
        """
        wanted = {(_group(m.obj.get("apiVersion", "")), m.kind, m.namespace or self.namespaces[0], m.name)
                  for m in manifests if m.kind != "Namespace"}
        kinds = list(dict.fromkeys([*PRUNED_KINDS, *((m.obj.get("apiVersion", ""), m.kind) for m in manifests
                                                     if m.kind != "Namespace")]))
        doomed: list[tuple[str, str, str, str]] = []
        for api_version, kind in kinds:
            if not self.client.serves(api_version, kind):
                continue
            for ns in self.namespaces:
                try:
                    items = self.client.list(api_version, kind, ns)
                except (KubeError, ApiException):  # e.g. a workshop account may not list this kind: keep it
                    continue
                for obj in items:
                    name = (obj.get("metadata") or {}).get("name", "")
                    if (_group(api_version), kind, ns, name) not in wanted and applied_by_grader(obj) \
                            and WORKSHOP_KEY not in ((obj.get("metadata") or {}).get("labels") or {}):
                        doomed.append((api_version, kind, ns, name))
        left: list[str] = []  # what could not be removed, said with the readiness problems
        gone: list[tuple[str, str, str, str]] = []
        for api_version, kind, ns, name in doomed:
            try:
                self.client.delete(api_version, kind, name, ns, propagation="Foreground")
                gone.append((api_version, kind, ns, name))
            except (KubeError, ApiException) as exc:  # e.g. a workshop Role without delete on this kind
                reason = api_reason(exc) if isinstance(exc, ApiException) else exc.reason
                left.append(f"{kind} {ns}/{name} is left from an earlier grading (no manifest names it now) and the "
                            f"grader could not remove it: {reason}; delete it: `kubectl --context {self.client.context} "
                            f"delete {kind.lower()} -n {ns} {name}`")
        for api_version, kind, ns, name in gone:
            if not self.client.wait_gone(api_version, kind, name, ns, timeout=REPLACE_TIMEOUT):
                left.append(f"{kind} {ns}/{name} (no manifest names it now) was still being deleted after "
                            f"{REPLACE_TIMEOUT:.0f} s")
        return [f"{kind} {ns}/{name}" for _, kind, ns, name in gone], left

    def prove_policy_enforced(self) -> None:
        """Make sure this cluster's CNI enforces NetworkPolicy before any "blocked" verdict counts.

        Returns at once when a "yes" for this context and API server is remembered from the last 24 h (the
        doctor's, or an earlier proof). Otherwise runs the doctor's deny probe in a scratch namespace
        (grader.cluster.policy_proof.prove_policy_enforcement), remembers the verdict, and raises SetupError
        with the doctor's explanation and fix when the policy blocked nothing.

        With `published_facts_namespace` (a workshop learner, who may not create the scratch namespace) it
        reads the verdict `grade workshop setup` published there instead of proving it.
        """
        from grader.cluster.policy_proof import api_server_of, prove_policy_enforcement, recently_proven

        if recently_proven(self.client.context, api_server_of(self.client)):
            self.policy_enforced = True
            return
        if self.published_facts_namespace:
            self._accept_published_policy(self.published_facts_namespace)
            return

        def scratch_backend(namespace: str) -> LiveBackend:
            return LiveBackend(self.client, POLICY_PROOF_LESSON, [namespace], workers=self.workers,
                               ready_timeout=self.ready_timeout, policy_enforced=None, sleep=self._sleep,
                               clock=self._clock)

        try:
            check = prove_policy_enforcement(self.client, scratch_backend)
        except KubeError as exc:
            raise SetupError(
                "this lesson has NetworkPolicies, so the grader first proves that the cluster enforces them "
                f"(a deny-all policy must block a probe in a scratch namespace), but it could not: {exc}\n"
                "  what to do: run `grade cluster doctor` (it needs rights to create a namespace; in a workshop, "
                "ask the instructor to run it)."
            ) from None
        self.policy_enforced = check.ok
        if check.ok:
            return
        raise SetupError(
            "this lesson has NetworkPolicies, and this cluster does not prove that it enforces them: "
            f"{check.detail}.\n  what to do: {check.hint}.\n  Until then a connection the policy should block "
            "would get through, and the grader cannot tell your policy from a cluster that ignores policies."
        )

    def _accept_published_policy(self, namespace: str) -> None:
        """Return when the verdict published in `namespace` is "yes"; else SetupError saying what to do."""
        from grader.workshop.facts import CLUSTER_FACTS_CONFIGMAP, published_policy

        where = f"ConfigMap {namespace}/{CLUSTER_FACTS_CONFIGMAP}"
        ask_setup = "ask your instructor to run `grade workshop setup` (it publishes the cluster's NetworkPolicy verdict)"
        try:
            facts = self.client.get("v1", "ConfigMap", CLUSTER_FACTS_CONFIGMAP, namespace)
        except Exception as exc:  # noqa: BLE001 - no rights or no answer: the learner's next step is the same
            raise SetupError(
                "this lesson has NetworkPolicies, so the grader needs the cluster's verdict that it enforces them, "
                f"but it cannot read {where}: {getattr(exc, 'reason', None) or exc}.\n  what to do: {ask_setup}."
            ) from None
        verdict, detail, hint = published_policy(facts)
        if verdict == "yes":
            self.policy_enforced = True
            return
        if verdict == "missing":
            raise SetupError(
                f"this lesson has NetworkPolicies, and {where} holds no verdict on whether this cluster enforces "
                f"them.\n  what to do: {ask_setup}."
            )
        self.policy_enforced = False if verdict == "no" else None
        found = "does not enforce them" if verdict == "no" else "could not prove that it enforces them"
        raise SetupError(
            f"this lesson has NetworkPolicies, and your instructor's `grade workshop setup` found that this cluster "
            f"{found}: {detail or 'no detail recorded'}.\n  what to do: tell your instructor; the fix: "
            f"{hint or 'run `grade cluster doctor`'}, then `grade workshop setup` again.\n  Until then a connection "
            "a policy should block would get through, and the grader cannot tell your policy from a cluster that ignores policies."
        )

    def _wait_ready(self) -> list[str]:
        source = KubePodSource(self.client.core)
        deadline = self._clock() + self.ready_timeout
        problems: list[str] = []
        for ns in self.namespaces:
            remaining = max(1.0, deadline - self._clock())
            problems += wait_until_ready(source, ns, remaining, logs=self._previous_logs)
        for ns in self.namespaces:
            pods = self.client.list("v1", "Pod", ns)
            slices = self.client.list("discovery.k8s.io/v1", "EndpointSlice", ns)
            for svc in self.client.list("v1", "Service", ns):
                problems += filter(None, [service_problem(svc, slices, pods), load_balancer_problem(svc)])
            for ing in self.client.list("networking.k8s.io/v1", "Ingress", ns):
                problems += filter(None, [ingress_problem(ing)])
        return problems

    def _previous_logs(self, ns: str, pod: str, container: str) -> str:
        return self.client.pod_logs(ns, pod, container, tail=10, previous=True)

    # ---- pods ---------------------------------------------------------------------------------

    def pods(self) -> list[Pod]:
        """The pods in the lesson's namespaces, read from the API."""
        out: list[Pod] = []
        for ns in self.namespaces:
            for p in self.client.list("v1", "Pod", ns):
                out.append(pod_from_api(p))
        return out

    # ---- probes -------------------------------------------------------------------------------

    def run(self, probes: list[Probe], expect: list[bool | None] | None = None) -> list[Result]:
        """Run probes on a bounded pool of workers; results come back in the probes' order.

        `expect[i]` (True: should connect, False: should be blocked, None: no expectation) drives retries.
        """
        expectations = list(expect) if expect is not None else [None] * len(probes)
        if len(expectations) != len(probes):
            raise ValueError("expect must have one entry per probe")
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            return list(pool.map(self._run_one, probes, expectations))

    def _run_one(self, probe: Probe, expected: bool | None) -> Result:
        try:
            if isinstance(probe, Connect):
                result = self._connect_with_retries(probe, expected)
            elif isinstance(probe, Resolve):
                result = self._resolve(probe)
            elif isinstance(probe, ClientIP):
                result = self._clientip(probe)
            elif isinstance(probe, Http):
                result = self._http(probe)
            else:
                raise TypeError(f"unknown probe {probe!r}")
        except (ApiException, KubeError) as exc:  # e.g. 403 for a workshop account: a result, not a traceback
            why = f"the API server refused a read this probe needs: {api_reason(exc) if isinstance(exc, ApiException) else exc}"
            return Result(probe, False, "error", [why, "check your kube context and permissions: `kubectl auth can-i --list`"],
                          self._reproduce(probe), {})
        if not result.ok and self.readiness_problems:
            result.evidence += ["not ready when probed:"] + [f"  {p}" for p in self.readiness_problems]
        return result

    def _exec_in(self, src: str, argv: list[str], timeout: float = 5.0) -> tuple[Any, str, str, str]:
        ns, _, pod = src.partition("/")
        res = self.client.exec(ns, pod, argv, timeout=timeout)
        return res, ns, pod, kubectl_exec(ns, pod, argv, self.client.context)

    def _connect_once(self, probe: Connect) -> Result:
        argv = connect_command(probe.host, probe.port, probe.protocol)
        if not is_ip(probe.host):
            failed_lookup = self._lookup_fails(probe, argv)
            if failed_lookup is not None:
                return failed_lookup
        res, ns, pod, kubectl = self._exec_in(probe.src, argv)
        connected, verdict, cls = classify_connect(res.returncode, res.stderr, res.timed_out)
        evidence = [f"{kubectl}: {cls}"]
        if res.stderr.strip():
            evidence.append(res.stderr.strip())
        if res.error:
            evidence.append(res.error)
        return Result(probe, connected, verdict, evidence, kubectl, {"class": cls, "attempts": 1})

    def _lookup_fails(self, probe: Connect, connect_argv: list[str]) -> Result | None:
        """A "dns-failure" Result when the source pod cannot resolve the probe's host (None when it can).

        The simulator says "dns-failure" for a connect whose name does not resolve; agnhost would say "DNS: ..."
        only after its resolver gave up (10 s or more), so the pod's own resolver is asked first, with short
        timeouts (dig, in the same pod: same resolv.conf, same egress policy).
        """
        lookup = lookup_command(probe.host)
        res, ns, pod, dig = self._exec_in(probe.src, lookup, timeout=8.0)
        resolved, _, answer = classify_resolve(res.returncode, res.stdout)
        if resolved:
            return None
        if res.error and res.returncode is None and not res.timed_out:
            return None  # the lookup could not run at all (no dig in this image): let agnhost connect say it
        said = [line.strip() for line in res.stdout.splitlines() if "timed out" in line or "no servers" in line]
        if answer.status:
            what = f"status {answer.status}" + (" (no such name)" if answer.status == "NXDOMAIN" else "")
        elif res.timed_out:
            what = "no answer within 8 s"
        else:
            what = "; ".join(said) or "no answer from the cluster DNS"
        kubectl = kubectl_exec(ns, pod, connect_argv, self.client.context)
        evidence = [f"{dig}: {what}",
                    f"{probe.src} cannot resolve {probe.host}, so nothing was dialled: {kubectl} would fail with "
                    "'DNS: lookup ...' once its resolver gives up (5 s per try)"]
        return Result(probe, False, "dns-failure", evidence, kubectl,
                      {"class": "DNS", "attempts": 1, "lookup": dig, "dns_status": answer.status or None})

    def _connect_with_retries(self, probe: Connect, expected: bool | None) -> Result:
        result = self._connect_once(probe)
        attempts = 1
        deadline = self._clock() + RETRY_FOR_SECONDS
        while expected is not None and result.ok != expected and self._clock() < deadline:
            self._sleep(RETRY_EVERY_SECONDS)
            result = self._connect_once(probe)
            attempts += 1
        if expected is False and not result.ok:
            self._sleep(RETRY_EVERY_SECONDS)  # confirm: a blocked connection stays blocked
            confirm = self._connect_once(probe)
            attempts += 1
            if confirm.ok:
                result = confirm
                result.evidence.append("connected on the confirmation probe after being blocked: flaky path")
        result.data["attempts"] = attempts
        result.data.update(self._connect_facts(probe, result.ok))
        if expected is False and result.ok and self.policy_enforced is False:
            result.evidence.append(POLICY_NOT_ENFORCED)
        return result

    def _connect_facts(self, probe: Connect, connected: bool) -> dict[str, Any]:
        """"service": the Service the host names (a ClusterIP, or a DNS name through the source pod's search
        list); "endpoint": the pod that took the connection, when the API makes it certain (a pod IP, or a
        Service with a single ready endpoint)."""
        src_ns = probe.src.partition("/")[0]
        service: str | None = None
        direct: list[str] = []
        if is_ip(probe.host):
            service = service_by_cluster_ip(self._list_wide("v1", "Service"), probe.host)
            if service is None:
                direct = pods_with_ips(self._list_in("v1", "Pod", self._lesson_and(src_ns)), [probe.host])
        else:
            service = service_for_host(probe.host, src_ns, self._get_service)
        endpoint = None
        if connected and service is not None:
            ns = service.partition("/")[0]
            behind = ready_endpoint_pods(self._list_in("discovery.k8s.io/v1", "EndpointSlice", [ns]), service)
            endpoint = behind[0] if len(behind) == 1 else None
        elif connected and len(direct) == 1:
            endpoint = direct[0]
        return {"service": service, "endpoint": endpoint}

    # ---- reading the API for a result's facts (best effort: a fact we cannot read stays None) ------

    def _lesson_and(self, *namespaces: str) -> list[str]:
        return list(dict.fromkeys([*self.namespaces, *filter(None, namespaces)]))

    def _list_in(self, api_version: str, kind: str, namespaces: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for ns in namespaces:
            try:
                out += self.client.list(api_version, kind, ns)
            except Exception:  # e.g. a workshop account may not read another namespace: the fact stays unknown
                continue
        return out

    def _list_wide(self, api_version: str, kind: str) -> list[dict[str, Any]]:
        """Objects in every namespace (kube-dns lives in kube-system), else in the lesson's namespaces."""
        try:
            return self.client.list(api_version, kind)
        except Exception:  # a namespaced account cannot list cluster-wide
            return self._list_in(api_version, kind, self.namespaces)

    def _get_service(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.client.get("v1", "Service", name, namespace)
        except Exception:  # not readable here: treat as unknown
            return None

    def _resolve(self, probe: Resolve) -> Result:
        argv = resolve_command(probe.name)
        res, ns, pod, kubectl = self._exec_in(probe.src, argv, timeout=10.0)
        _, verdict, answer = classify_resolve(res.returncode, res.stdout)
        expected = self._expected_addresses(answer.names[0] if answer.names else "")
        ok, verdict, answer = classify_resolve(res.returncode, res.stdout, expected)
        evidence = [f"{kubectl}: status {answer.status or 'none'}, answers {answer.addresses or answer.cnames or '[]'}"]
        if expected is not None and not ok and answer.addresses:
            evidence.append(f"the API says {answer.names[0]} should resolve to {sorted(expected)}")
        if res.error:
            evidence.append(res.error)
        data = {"addresses": answer.addresses, "cnames": answer.cnames, "status": answer.status, "expected": expected}
        data.update(self._resolve_facts(answer, ns))
        return Result(probe, ok, verdict, evidence, kubectl, data)

    def _resolve_facts(self, answer: Any, src_ns: str) -> dict[str, Any]:
        """The simulator's keys: "type" (A, CNAME, NXDOMAIN; None when DNS did not answer), "answers" (IPs,
        or [the CNAME target]), "fqdn", "cname", "service" ("ns/name" when the name is a Service's) and
        "pods" (the pods holding the answered IPs)."""
        fqdn = answer.names[0] if answer.names else None
        if answer.cnames:
            rtype, answers = "CNAME", [answer.cnames[0]]
        elif answer.addresses:
            rtype, answers = "A", list(answer.addresses)
        elif answer.status in ("NXDOMAIN", "NOERROR"):
            rtype, answers = "NXDOMAIN", []
        else:
            rtype, answers = None, []  # SERVFAIL or no answer at all (timeout, DNS blocked)
        service = None
        parsed = service_name_in_fqdn(fqdn) if fqdn else None
        if parsed and self._get_service(*parsed) is not None:
            service = f"{parsed[0]}/{parsed[1]}"
        pods: list[str] = []
        if answer.addresses:
            where = [service.partition("/")[0]] if service else self._lesson_and(src_ns)
            pods = pods_with_ips(self._list_in("v1", "Pod", where), answer.addresses)
        return {"type": rtype, "answers": answers, "fqdn": fqdn, "cname": answer.cnames[0] if answer.cnames else None,
                "service": service, "pods": pods}

    def _expected_addresses(self, fqdn: str) -> list[str] | None:
        """ClusterIP, or the ready endpoint IPs of a headless Service, for `<svc>.<ns>.svc.<domain>`."""
        suffix = f".svc.{CLUSTER_DOMAIN}"
        if not fqdn.lower().endswith(suffix):
            return None
        labels = fqdn[: -len(suffix)].lower().split(".")
        if len(labels) != 2:
            return None  # pod hostnames under a headless Service: no single expectation here
        svc_name, ns = labels
        svc = self.client.get("v1", "Service", svc_name, ns)
        if svc is None:
            return None
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return None
        if spec.get("clusterIP") and spec.get("clusterIP") != "None":
            return [spec["clusterIP"]]
        ips: list[str] = []
        for s in self.client.list("discovery.k8s.io/v1", "EndpointSlice", ns,
                                  label_selector=f"kubernetes.io/service-name={svc_name}"):
            for ep in s.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready", True) is not False:
                    ips += ep.get("addresses") or []
        return sorted(set(ips))

    def _clientip(self, probe: ClientIP) -> Result:
        argv = clientip_command(probe.host, probe.port)
        res, ns, pod, kubectl = self._exec_in(probe.src, argv)
        ip = parse_clientip(res.stdout) if res.returncode == 0 else None
        src_pod = self.client.get("v1", "Pod", pod, ns) or {}
        src_ip = (src_pod.get("status") or {}).get("podIP")
        evidence = [f"{kubectl}: {res.stdout.strip() or res.stderr.strip() or res.error or 'no output'}"]
        data = {"client_ip": ip, "source_ip": src_ip, "nat": (ip != src_ip) if ip and src_ip else None}
        verdict = "allowed" if ip else ("blocked" if res.returncode == 28 else "error")  # curl 28: timed out
        return Result(probe, ip is not None, verdict, evidence, kubectl, data)

    def _http(self, probe: Http) -> Result:
        address, port, why = self._entry_point(probe)
        if address is None:
            evidence = [why] + (self._gateway_route_status() if probe.via.startswith("gateway:") else [])
            return Result(probe, False, "error", evidence, self._reproduce(probe), {"status": None, "service": None, "endpoint": None,
                                                                              "ingress": None, "cert_sans": []})
        host, hport = (address, port)
        if self.runner is not None and probe.via != "nodeport":
            host, hport = outside_endpoint(address, port, self.runner, self.engine)
        if probe.samples > 1:
            return self._http_samples(probe, host, hport)
        outcome: HttpOutcome = http_get(host, hport, probe.host, probe.path, probe.tls, method=probe.method, headers=probe.headers)
        command = curl_command(host, hport, probe.host, probe.path, probe.tls, method=probe.method, headers=probe.headers)
        evidence = [f"{command}: " + (f"HTTP {outcome.status}" if outcome.status else outcome.error)]
        if outcome.location:
            evidence.append(f"Location: {outcome.location}")
        if why:
            evidence.append(why)  # where the entry address came from
        cert = outcome.certificate
        data: dict[str, Any] = {"status": outcome.status, "address": f"{host}:{hport}", "body": outcome.body[:500],
                                "cert_sans": list(cert.get("sans") or []), "cert_subject": cert.get("subject"),
                                "cert_issuer": cert.get("issuer"), "location": outcome.location or None,
                                "response_headers": dict(outcome.headers)}
        if cert:
            data["certificate"] = cert
            evidence.append(f"certificate: subject {cert['subject']}, SANs {cert['sans']}, issuer {cert['issuer']}")
        facts = self._http_facts(probe, outcome.body)
        data.update(facts)
        if facts["endpoint"]:
            evidence.append(f"answered by pod {facts['endpoint']}" + (f" (Service {facts['service']})" if facts["service"] else ""))
        if probe.via.startswith("gateway:") and not outcome.ok:
            evidence += self._gateway_route_status()
        return Result(probe, outcome.ok, outcome.verdict, evidence, command, data)

    def _http_samples(self, probe: Http, host: str, hport: int) -> Result:
        """`probe.samples` requests; which Service answered how often (the course's servers answer with their pod name)."""
        counts: dict[str, int] = {}
        failures: dict[str, int] = {}
        for _ in range(probe.samples):
            outcome = http_get(host, hport, probe.host, probe.path, probe.tls, method=probe.method, headers=probe.headers)
            service = self._http_facts(probe, outcome.body)["service"] if outcome.ok else None
            if service:
                counts[service] = counts.get(service, 0) + 1
            else:
                what = f"HTTP {outcome.status}" if outcome.status else (outcome.error or outcome.verdict)
                failures[what] = failures.get(what, 0) + 1
        command = curl_command(host, hport, probe.host, probe.path, probe.tls, method=probe.method, headers=probe.headers)
        evidence = [f"{probe.samples} x {command}: " + ", ".join(f"{k} {v}" for k, v in sorted({**counts, **failures}.items()))]
        data: dict[str, Any] = {"status": None, "samples": probe.samples, "counts": counts, "failures": failures,
                                "shares": {k: v / probe.samples for k, v in counts.items()},
                                "service": max(counts, key=lambda k: counts[k]) if counts else None, "endpoint": None}
        return Result(probe, not failures and bool(counts), "allowed" if counts and not failures else "error", evidence, self._reproduce(probe), data)

    def _reproduce(self, probe: Probe) -> str:
        """kubectl_for on this cluster's context, an ingress probe naming the lesson's Ingress for its host."""
        ingress = None
        if isinstance(probe, Http) and probe.via == "ingress":
            chosen = lesson_ingress(self._list_in("networking.k8s.io/v1", "Ingress", self.namespaces), probe.host,
                                    self.namespaces, with_address=False)
            if chosen is not None:
                meta = chosen.get("metadata") or {}
                ingress = f"{meta.get('namespace')}/{meta.get('name')}"
        return kubectl_for(probe, context=self.client.context, ingress=ingress)

    def _gateway_route_status(self) -> list[str]:
        """The status the controller wrote on the lesson's HTTPRoutes that are not accepted: why nothing answered."""
        from grader.model.gateway.observed import route_is_accepted, route_status_lines

        lines: list[str] = []
        for route in self._list_in("gateway.networking.k8s.io/v1", "HTTPRoute", self.namespaces):
            if not route_is_accepted(route):
                lines += route_status_lines(route)
        return lines

    def _http_facts(self, probe: Http, body: str) -> dict[str, Any]:
        """Who answered: the course's netexec servers run with --http-override=/hostname, so the body is the
        pod's name. "endpoint" is that pod, "service" the lesson's Service selecting it (the one an Ingress
        backend names, when several do), "ingress" the Ingress that routes the host to that Service."""
        ingresses = self._list_in("networking.k8s.io/v1", "Ingress", self.namespaces) if probe.via == "ingress" else []
        service: str | None = None
        if probe.via.startswith("loadbalancer:"):
            service = probe.via.split(":", 1)[1]
        elif probe.via == "nodeport" and probe.port is not None:
            service = service_by_node_port(self._list_in("v1", "Service", self.namespaces), probe.port)
        pod = self._pod_named(body.strip(), preferred=[k.partition("/")[0] for k in [service] if k])
        endpoint = None
        if pod is not None:
            meta = pod.get("metadata") or {}
            endpoint = f"{meta.get('namespace')}/{meta.get('name')}"
            if service is None:
                candidates = services_selecting(self._list_in("v1", "Service", [meta.get("namespace", "")]), pod)
                service = choose_service(candidates, ingresses, probe.host)
        return {"endpoint": endpoint, "service": service,
                "ingress": ingress_for(ingresses, service, probe.host) if probe.via == "ingress" else None}

    def _pod_named(self, name: str, preferred: list[str]) -> dict[str, Any] | None:
        """The pod of the lesson named `name` (an HTTP body is a pod name only if such a pod exists)."""
        if not name or len(name) > 253 or any(c.isspace() or c in "/:<>{}" for c in name):
            return None
        for ns in dict.fromkeys(preferred + self.namespaces):
            try:
                pod = self.client.get("v1", "Pod", name, ns)
            except Exception:  # unreadable namespace: look in the next
                continue
            if pod is not None:
                return pod
        return None

    def _entry_point(self, probe: Http) -> tuple[str | None, int, str]:
        """(address, port, note) where the request enters; the note says where a node address came from,
        or, with address None, why there is no entry point."""
        default_port = probe.port or (443 if probe.tls else 80)
        if probe.via == "ingress":
            addr = ingress_entry_address(self._list_in("networking.k8s.io/v1", "Ingress", self.namespaces), probe.host,
                                         self.namespaces)
            if addr:
                return addr, default_port, ""
            return None, 0, (f"no Ingress in {', '.join(self.namespaces)} has an address yet, so nothing serves host "
                             f"{probe.host!r}; see `kubectl --context {self.client.context} get ingress -n "
                             f"{self.namespaces[0]}` and `grade cluster doctor`")
        if probe.via.startswith("loadbalancer:"):
            ns, _, name = probe.via.split(":", 1)[1].partition("/")
            svc = self.client.get("v1", "Service", name, ns)
            if svc is None:
                return None, 0, f"Service {ns}/{name} does not exist"
            addr = load_balancer_address(svc)
            if not addr:
                return None, 0, load_balancer_problem(svc) or f"Service {ns}/{name} is not type LoadBalancer"
            ports = (svc.get("spec") or {}).get("ports") or [{}]
            return addr, probe.port or int(ports[0].get("port", 80)), ""
        if probe.via.startswith("gateway:"):
            ns, _, name = probe.via.split(":", 1)[1].partition("/")
            return self._gateway_entry(ns, name, default_port)
        if probe.via == "nodeport":
            if probe.port is None:
                return None, 0, "a nodeport probe needs port= (the Service's nodePort)"
            address, note = self._node_address()
            return (address, probe.port, note) if address else (None, 0, note)
        return None, 0, f"unknown entry point via={probe.via!r} (ingress, nodeport, loadbalancer:<ns>/<svc> or gateway:<ns>/<name>)"

    def _gateway_entry(self, ns: str, name: str, port: int, wait_seconds: float = 30.0) -> tuple[str | None, int, str]:
        """The Gateway's address from status.addresses, waiting (bounded) while its controller programs it."""
        from grader.model.gateway.observed import gateway_address, gateway_problem

        deadline = self._clock() + wait_seconds
        while True:
            gateway = self.client.get("gateway.networking.k8s.io/v1", "Gateway", name, ns)
            if gateway is None:
                return None, 0, f"Gateway {ns}/{name} does not exist: write it (kind: Gateway, metadata.name: {name})"
            address = gateway_address(gateway)
            pending = self._routes_without_status(ns, name) if address else []
            if address and (not pending or self._clock() >= deadline):
                note = f"Gateway {ns}/{name} address {address} (status.addresses)"
                if pending:
                    note += f"; no controller has written a status on HTTPRoute(s) {', '.join(pending)} yet"
                return address, port, note
            if self._clock() >= deadline:
                return None, 0, gateway_problem(gateway)
            self._sleep(RETRY_EVERY_SECONDS)

    def _routes_without_status(self, ns: str, name: str) -> list[str]:
        """The lesson's HTTPRoutes naming this Gateway that its controller has not reconciled yet (no status.parents)."""
        waiting = []
        for route in self._list_in("gateway.networking.k8s.io/v1", "HTTPRoute", self.namespaces):
            meta = route.get("metadata") or {}
            refs = (route.get("spec") or {}).get("parentRefs") or []
            mine = any((r or {}).get("name") == name and (r or {}).get("namespace", meta.get("namespace")) == ns for r in refs)
            if mine and not ((route.get("status") or {}).get("parents")):
                waiting.append(f"{meta.get('namespace')}/{meta.get('name')}")
        return waiting

    def _node_address(self) -> tuple[str | None, str]:
        """Where NodePort probes enter, and a line saying where that address came from (or why there is none).

        A workshop learner uses the address `grade workshop setup` published (their Role cannot list Nodes);
        otherwise 127.0.0.1 for the course's kind cluster on a host that cannot route to it (macOS, Windows:
        clusters/kind.yaml maps 30080 there), else a node's ExternalIP, else its InternalIP.
        """
        if self._node_entry is not None:
            return self._node_entry
        missing = ""
        if self.published_facts_namespace:
            address, note = self._published_node_address(self.published_facts_namespace)
            if address:
                self._node_entry = (address, note)
                return self._node_entry
            missing = note
        address, note = self._own_node_address()
        if missing:
            note = f"{missing}; {note}" if address is None else f"{note} ({missing})"
        if address is None:
            return None, note
        self._node_entry = (address, note)
        return self._node_entry

    def _published_node_address(self, namespace: str) -> tuple[str | None, str]:
        from grader.workshop.facts import CLUSTER_FACTS_CONFIGMAP, published_node_address

        where = f"ConfigMap {namespace}/{CLUSTER_FACTS_CONFIGMAP}"
        try:
            facts = self.client.get("v1", "ConfigMap", CLUSTER_FACTS_CONFIGMAP, namespace)
        except Exception as exc:  # noqa: BLE001 - no rights or no answer: fall back, and say so
            return None, f"cannot read {where} for the node address: {getattr(exc, 'reason', None) or exc}"
        address, source = published_node_address(facts)
        if address is None:
            return None, (f"{where} names no node address: ask your instructor to run `grade workshop setup` again "
                          "(it publishes one; --node-address ADDR chooses it)")
        return address, f"node address {address} from {where} ({source}, published by `grade workshop setup`)"

    def _own_node_address(self) -> tuple[str | None, str]:
        from grader.workshop.facts import pick_node_address

        course_kind = self._is_course_kind_cluster()
        if course_kind and not host_can_route_to_kind():
            return "127.0.0.1", "node address 127.0.0.1: the course's kind cluster maps nodePort 30080 to this machine (clusters/kind.yaml)"
        try:
            nodes = self.client.list("v1", "Node")
        except Exception as exc:  # noqa: BLE001 - e.g. a namespaced account: say what to do instead
            return None, (f"cannot list Nodes to find a node address for the NodePort probe: "
                          f"{getattr(exc, 'reason', None) or exc}; an account that may list Nodes can grade this task")
        address, source = pick_node_address(nodes)
        if address is None:
            return None, source
        note = f"node address {address}: the {source}"
        if source.startswith("InternalIP") and not (course_kind and host_can_route_to_kind()):
            note += "; an InternalIP is often private: if the probe times out, this machine cannot reach it"
        return address, note

    def _is_course_kind_cluster(self) -> bool:
        """Whether the client is on a kind cluster `grade cluster up` created (its nodePort 30080 is mapped here)."""
        context = getattr(self.client, "context", None)
        return context == DEFAULT_CONTEXT or CourseContexts.default().created_by_grader(str(context), None)


def lesson_ingress(ingresses: list[dict[str, Any]], host: str, namespaces: list[str] | None = None, *,
                   with_address: bool = True) -> dict[str, Any] | None:
    """The Ingress a request for `host` enters through: one with a rule for that host, else one with a rule
    without host, else one with a default backend, else any (the controller then answers 404 itself, which
    is the real answer for an unrouted host); ties go to the lesson's first namespace (`namespaces` order).
    `with_address`: only Ingresses that have an address."""
    order = {ns: i for i, ns in enumerate(namespaces or [])}
    ranked: list[tuple[int, int, int, dict[str, Any]]] = []
    for i, ing in enumerate(ingresses):
        if with_address and not load_balancer_address(ing):
            continue
        hosts = [h for h, _ in ingress_backends(ing)]
        rules = [r.get("host") for r in (ing.get("spec") or {}).get("rules") or []]
        if any(h and rule_host_matches(h, host) for h in rules):
            rank = 0
        elif None in rules:
            rank = 1
        elif None in hosts:
            rank = 2
        else:
            rank = 3
        ns = (ing.get("metadata") or {}).get("namespace", "")
        ranked.append((rank, order.get(ns, len(order)), i, ing))
    return min(ranked, key=lambda t: t[:3])[3] if ranked else None


def ingress_entry_address(ingresses: list[dict[str, Any]], host: str, namespaces: list[str] | None = None) -> str | None:
    """The address of `lesson_ingress` for `host` (None when no Ingress has one)."""
    chosen = lesson_ingress(ingresses, host, namespaces)
    return load_balancer_address(chosen) if chosen is not None else None


def _connect(context: str | None) -> KubeClient:
    """KubeClient.connect, with every failure turned into a SetupError that says what to do."""
    try:
        return KubeClient.connect(context)
    except SetupError:
        raise
    except Exception as exc:  # unreadable kubeconfig, bad credentials: the user's setup, not our bug
        name = context or DEFAULT_CONTEXT
        raise SetupError(f"cannot load kube context {name!r} from your kubeconfig: {exc}. "
                         "Check `kubectl config get-contexts`, or run `grade cluster up`.") from None


# What to do about an API rejection, by HTTP status.
REJECTION_FIXES = {
    400: "the API could not read this object: check its apiVersion, kind and indentation",
    403: "the cluster does not let the grader create this: in a workshop your account may only use your own namespaces",
    404: "its kind is not served by this cluster: check apiVersion and kind",
    409: "another object is in the way: delete it (`kubectl delete`) and grade again",
    422: "fix the field named above (the API checks names, ports and selectors the way `kubectl apply` does) and grade again",
}


def _rejection(exc: KubeError, kind: str, name: str, manifest: Any | None) -> str:
    """A message for an API rejection: which object, where it is written, why, what to do.

    Learner advice ("fix the object") only for the learner's own objects rejected for what they say: not for
    the grader's own (doctor, fixtures), not for a cluster too old for them, not for "not now" answers
    (409, 429, 5xx) that were still there after the retries.
    """
    where = getattr(manifest, "source", None)
    head = f"{where}: " if where else ""
    if exc.transient:
        return (f"{head}the API server did not take {kind} {name!r} (HTTP {exc.status}: {exc.reason}), also after "
                "retrying for several seconds. That is the cluster being busy or restarting, not your file.\n"
                "  what to do: wait a moment and grade again; `grade cluster status` shows whether the cluster is healthy.")
    if exc.ours:  # the grader's own sentence about the cluster (too old, a namespace still terminating)
        return f"{head}{exc.reason}"
    if is_graders_own(manifest):
        return (f"the cluster rejected the grader's own {kind} {name!r} ({where or 'the grader'}): {exc.reason}\n"
                "  That is not about your files: run `grade cluster doctor`; if it still fails, report it with this message.")
    if exc.status == 403 and "being terminated" in exc.reason:
        return (f"{head}the cluster refused {kind} {name!r}: {exc.reason}\n  what to do: an earlier run is still "
                "deleting that namespace; grade again in a minute.")
    fix = REJECTION_FIXES.get(exc.status or 0, "fix the object and grade again")
    return f"{head}the cluster rejected {kind} {name!r}: {exc.reason}\n  what to do: {fix}."


def is_immutable_change(exc: KubeError) -> bool:
    """Whether an apply was refused because it would change a field that cannot change in place."""
    text = (exc.reason or str(exc)).lower()
    return exc.status == 422 and any(marker in text for marker in IMMUTABLE_MARKERS)


def applied_by_grader(obj: dict[str, Any]) -> bool:
    """Whether the grader's server-side apply (field manager "grade") wrote this object."""
    fields = (obj.get("metadata") or {}).get("managedFields") or []
    return any(f.get("manager") == FIELD_MANAGER and f.get("operation") == "Apply" for f in fields)


def is_graders_own(manifest: Any | None) -> bool:
    """Whether a manifest is the grader's (the doctor's objects, a lesson's fixtures), not the learner's."""
    if manifest is None:
        return False
    source = getattr(manifest, "source", None)
    path = getattr(source, "file", None)
    if path is None:
        return isinstance(source, str) and source == "doctor"
    from pathlib import Path

    parents = Path(str(path)).resolve().parents
    return any(p.name == "fixtures" and (p.parent / "lesson.yaml").exists() for p in parents)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _remembered_policy(context: str) -> bool | None:
    """The doctor's last NetworkPolicy verdict for this context (None: never checked)."""
    from grader.cluster.policy_proof import policy_enforcement

    verdict = policy_enforcement(context, "unknown")
    return True if verdict == "yes" else False if verdict == "no" else None


def pod_from_api(p: dict[str, Any]) -> Pod:
    """grader.model.objects.Pod from a Pod as the API returns it."""
    meta, spec, status = p.get("metadata") or {}, p.get("spec") or {}, p.get("status") or {}
    ports = [
        ContainerPort(int(cp["containerPort"]), cp.get("protocol", "TCP"), cp.get("name"), c.get("name", ""))
        for c in spec.get("containers") or [] for cp in c.get("ports") or []
    ]
    owners = meta.get("ownerReferences") or []
    owner = f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None
    return Pod(
        namespace=meta.get("namespace", ""), name=meta.get("name", ""), labels=dict(meta.get("labels") or {}),
        ip=status.get("podIP") or "", node=spec.get("nodeName") or "", ports=ports, ready=pod_is_ready(p),
        host_network=bool(spec.get("hostNetwork")), hostname=spec.get("hostname"), subdomain=spec.get("subdomain"),
        owner=owner,
    )
