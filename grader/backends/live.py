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

from grader.kube.client import KubeClient, context_server, context_servers, kubeconfig_paths
from grader.kube.readiness import (
    KubePodSource,
    ingress_problem,
    load_balancer_address,
    load_balancer_problem,
    pod_is_ready,
    service_problem,
    wait_until_ready,
)
from grader.kube.safety import DEFAULT_CONTEXT, CourseContexts, UnsafeTargetError, check_manifests_allowed
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
    outside_endpoint,
    parse_clientip,
    resolve_command,
)
from grader.model.objects import CLUSTER_DOMAIN, ContainerPort, Pod
from grader.probes import ClientIP, Connect, Http, Probe, Resolve, Result

RETRY_FOR_SECONDS = 10.0
RETRY_EVERY_SECONDS = 1.0
POLICY_NOT_ENFORCED = (
    "NetworkPolicy is not enforced on this cluster (kindnet fails open, known on WSL2), so a connection "
    "the policy should block gets through; recreate with `grade cluster up --profile calico`."
)


class ManifestsRefused(Exception):
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
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`client` defaults to the course context (or `context`, named by the user: see KubeClient.connect).

        `namespaces` are the only ones the backend touches; when not given, they are the namespaces the
        manifests name (each still refused if it exists without the grader's label). `lesson` labels
        them (default: the first namespace). `policy_enforced` defaults to the doctor's last verdict.
        """
        self.client = client if client is not None else KubeClient.connect(context)
        self.lesson = lesson
        self.namespaces = list(namespaces or ([lesson] if lesson else []))
        self.workers = workers
        self.ready_timeout = ready_timeout
        self.runner = runner
        self.engine = engine
        self.policy_enforced = policy_enforced if policy_enforced is not None else _remembered_policy(self.client.context)
        self.readiness_problems: list[str] = []
        self._sleep = sleep
        self._clock = clock

    # ---- apply --------------------------------------------------------------------------------

    def apply(self, manifests: list[Any]) -> None:
        """Check, then server-side apply the manifests into the lesson's namespaces, then wait for readiness."""
        if not self.namespaces:
            named = {m.namespace for m in manifests if m.namespace} | {m.name for m in manifests if m.kind == "Namespace"}
            self.namespaces = sorted(named)
        if not self.namespaces:
            raise ManifestsRefused(["no namespace: pass the lesson's namespaces to LiveBackend"])
        problems = check_manifests_allowed(manifests, self.namespaces)
        if problems:
            raise ManifestsRefused(problems)
        lesson = self.lesson or self.namespaces[0]
        for ns in self.namespaces:
            self.client.ensure_lesson_namespace(ns, lesson)
        for m in manifests:
            if m.kind == "Namespace":
                continue  # the grader created and labelled it above
            self.client.apply(m.obj, namespace=m.namespace or self.namespaces[0])
        self.readiness_problems = self._wait_ready()

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

    def run_expecting(self, probes: list[Probe], expected: list[bool | None]) -> list[Result]:
        """`run` with one expectation per probe."""
        return self.run(probes, expect=expected)

    def _run_one(self, probe: Probe, expected: bool | None) -> Result:
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
        if not result.ok and self.readiness_problems:
            result.evidence += ["not ready when probed:"] + [f"  {p}" for p in self.readiness_problems]
        return result

    def _exec_in(self, src: str, argv: list[str], timeout: float = 5.0) -> tuple[Any, str, str, str]:
        ns, _, pod = src.partition("/")
        res = self.client.exec(ns, pod, argv, timeout=timeout)
        return res, ns, pod, kubectl_exec(ns, pod, argv, self.client.context)

    def _connect_once(self, probe: Connect) -> Result:
        argv = connect_command(probe.host, probe.port, probe.protocol)
        res, ns, pod, kubectl = self._exec_in(probe.src, argv)
        connected, verdict, cls = classify_connect(res.returncode, res.stderr, res.timed_out)
        evidence = [f"{kubectl}: {cls}"]
        if res.stderr.strip():
            evidence.append(res.stderr.strip())
        if res.error:
            evidence.append(res.error)
        return Result(probe, connected, verdict, evidence, kubectl, {"class": cls, "attempts": 1})

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
        if expected is False and result.ok and self.policy_enforced is False:
            result.evidence.append(POLICY_NOT_ENFORCED)
        return result

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
        data = {"addresses": answer.addresses, "cnames": answer.cnames, "status": answer.status,
                "fqdn": answer.names[0] if answer.names else None, "expected": expected}
        return Result(probe, ok, verdict, evidence, kubectl, data)

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
            return Result(probe, False, "error", [why], "", {})
        host, hport = (address, port)
        if self.runner is not None and probe.via != "nodeport":
            host, hport = outside_endpoint(address, port, self.runner, self.engine)
        outcome: HttpOutcome = http_get(host, hport, probe.host, probe.path, probe.tls)
        command = curl_command(host, hport, probe.host, probe.path, probe.tls)
        evidence = [f"{command}: " + (f"HTTP {outcome.status}" if outcome.status else outcome.error)]
        data: dict[str, Any] = {"status": outcome.status, "address": f"{host}:{hport}", "body": outcome.body[:500]}
        if outcome.certificate:
            data["certificate"] = outcome.certificate
            c = outcome.certificate
            evidence.append(f"certificate: subject {c['subject']}, SANs {c['sans']}, issuer {c['issuer']}")
        return Result(probe, outcome.ok, outcome.verdict, evidence, command, data)

    def _entry_point(self, probe: Http) -> tuple[str | None, int, str]:
        default_port = probe.port or (443 if probe.tls else 80)
        if probe.via == "ingress":
            for ns in self.namespaces:
                for ing in self.client.list("networking.k8s.io/v1", "Ingress", ns):
                    hosts = {r.get("host") for r in (ing.get("spec") or {}).get("rules") or []}
                    addr = load_balancer_address(ing)
                    if addr and (probe.host in hosts or None in hosts):
                        return addr, default_port, ""
            return None, 0, (f"no Ingress in {', '.join(self.namespaces)} with an address serves host {probe.host!r}; "
                             "see `kubectl get ingress -A` and `grade cluster doctor`")
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
        if probe.via == "nodeport":
            if probe.port is None:
                return None, 0, "a nodeport probe needs port= (the Service's nodePort)"
            if not host_can_route_to_kind():
                return "127.0.0.1", probe.port, ""  # clusters/kind.yaml maps nodePort 30080 to localhost
            for node in self.client.list("v1", "Node"):
                for a in (node.get("status") or {}).get("addresses") or []:
                    if a.get("type") == "InternalIP":
                        return a["address"], probe.port, ""
            return None, 0, "no node has an InternalIP"
        return None, 0, f"unknown entry point via={probe.via!r} (ingress, nodeport or loadbalancer:<ns>/<svc>)"


def _remembered_policy(context: str) -> bool | None:
    """The doctor's last NetworkPolicy verdict for this context (None: never checked)."""
    from grader.cluster.doctor import policy_enforcement

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
