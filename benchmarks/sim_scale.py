"""How fast `grade sim matrix` answers "who can reach whom" on cluster-sized manifests, end to end.

Run:  python benchmarks/sim_scale.py            # targets + growth tables (a few minutes on a busy machine)
      python benchmarks/sim_scale.py --quick    # targets only
      python benchmarks/sim_scale.py --phases   # also: where the time goes, validation reported apart
      python benchmarks/sim_scale.py --instructions  # also: instruction counts (valgrind), stable on a busy machine
      python benchmarks/sim_scale.py --compare /path/to/cyclonus   # the same question asked of cyclonus/policy-assistant
      python benchmarks/sim_scale.py --repo DIR # measure another checkout (e.g. the code before a change)

Inputs are YAML files written to a temporary folder with a fixed seed, in two shapes:
- varied: what `kubectl get pods,networkpolicies,namespaces -A -o yaml` of a busy cluster looks like.
  Pods (with status.podIP) carry random picks from a small label vocabulary (app, tier, env, version,
  team, release, and a pod-template-hash no selector mentions); two container ports each, whose names
  mean different numbers on different pods; a few hostNetwork node agents. Policies in random
  namespaces: pod selectors (matchLabels, In/NotIn/Exists/DoesNotExist), namespace selectors, AND
  peers, ipBlocks with except, named ports, endPort ranges, UDP, default denies, omitted policyTypes.
- friendly: what a course exercise looks like, scaled up: Deployments with Zipf-like replica counts
  (and canary Deployments), tier/app/version labels, per-namespace policy templates.

What is measured: the whole command a user runs, `grade sim matrix DIR [--json|--summary]`, as a
subprocess (Python start-up, imports, loading and validating the YAML, building the world, the
matrix and writing the output to a file): the median of --repeat runs, the peak resident memory of
that process (os.wait4), and the output size. The machine's load average is printed beside each
row: on a shared machine wall-clock numbers move with it; the process's CPU seconds (user + system,
also from os.wait4) move much less, and instruction counts (--instructions) do not.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PODS_PER_FILE = 400  # grader.manifests refuses files over 1 MB; a real export is split the same way

# ------------------------------------------------------------------------------------- varied shape

LABELS = {
    "app": ["web", "api", "db", "cache", "worker", "auth", "search", "billing"],
    "tier": ["frontend", "backend", "data"],
    "env": ["prod", "staging"],
    "version": ["v1", "v2", "v3"],
    "team": ["payments", "search", "identity", "growth", "platform"],
    "release": ["stable", "canary"],
}
# (name, possible numbers): one name means different numbers on different pods
SERVICE_PORTS = [("http", [80, 8080]), ("https", [443, 8443]), ("grpc", [9000, 50051]), ("db", [5432, 3306])]
METRICS_PORTS = [9090, 9100]
COURSE_NODES = [("course-control-plane", "172.18.0.2"), ("course-worker", "172.18.0.3"), ("course-worker2", "172.18.0.4")]


def _selector(rnd: random.Random, keys: dict[str, list[str]], empty_weight: float = 0.25) -> dict:
    r = rnd.random()
    if r < empty_weight:
        return {}
    if r < empty_weight + 0.45:
        chosen = rnd.sample(sorted(keys), rnd.choice([1, 1, 2]))
        return {"matchLabels": {k: rnd.choice(keys[k]) for k in chosen}}
    key = rnd.choice(sorted(keys))
    op = rnd.choice(["In", "In", "NotIn", "Exists", "DoesNotExist"])
    expr: dict = {"key": key, "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = rnd.sample(keys[key], min(len(keys[key]), rnd.choice([1, 2])))
    return {"matchExpressions": [expr]}


def _ns_labels_vocab() -> dict[str, list[str]]:
    return {"team": LABELS["team"], "env": ["prod", "staging", "dev"], "mesh": ["enabled", "disabled"]}


def _peer(rnd: random.Random, n_subnets: int) -> dict:
    kind = rnd.choices(["pod", "ns", "both", "ip"], weights=[35, 20, 25, 20])[0]
    if kind == "ip":
        k = rnd.randrange(n_subnets)
        return {"ipBlock": rnd.choice([
            {"cidr": "10.244.0.0/16", "except": [f"10.244.{k}.0/24"]},
            {"cidr": f"10.244.{k}.0/24", "except": [f"10.244.{k}.128/25"]},
            {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]},
            {"cidr": "172.18.0.0/16"},
        ])}
    peer: dict = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = _selector(rnd, LABELS, empty_weight=0.1)
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = _selector(rnd, _ns_labels_vocab(), empty_weight=0.2)
    return peer


def _port_entry(rnd: random.Random) -> dict:
    kind = rnd.choices(["number", "named", "range", "udp"], weights=[35, 35, 20, 10])[0]
    if kind == "number":
        return {"port": rnd.choice([80, 443, 8080, 8443, 5432, 9090, 9000])}
    if kind == "named":
        return {"port": rnd.choice(["http", "https", "grpc", "db", "metrics"])}
    if kind == "range":
        return rnd.choice([{"port": 8000, "endPort": 8999}, {"port": 9000, "endPort": 9100}, {"port": 1, "endPort": 1024}])
    return {"port": 53, "protocol": "UDP"}


def _rules(rnd: random.Random, peer_field: str, n_subnets: int) -> list[dict]:
    out = []
    for _ in range(rnd.choice([1, 1, 2, 3])):
        rule: dict = {}
        if rnd.random() < 0.85:
            rule[peer_field] = [_peer(rnd, n_subnets) for _ in range(rnd.choice([1, 1, 2, 3]))]
        if rnd.random() < 0.7:
            rule["ports"] = [_port_entry(rnd) for _ in range(rnd.choice([1, 2]))]
        out.append(rule)
    return out


def varied_manifests(n_pods: int, n_policies: int, seed: int = 1) -> list[dict]:
    """Pods with varied labels and the policies of a busy cluster (see the module docstring)."""
    rnd = random.Random(seed)
    namespaces = [f"ns-{i}" for i in range(max(4, n_pods // 50))]
    docs: list[dict] = []
    for ns in namespaces:
        labels = {k: rnd.choice(v) for k, v in _ns_labels_vocab().items() if rnd.random() < 0.8}
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
    hashes = [f"{rnd.getrandbits(32):08x}"[:6] for _ in range(40)]
    for i in range(n_pods):
        ns = rnd.choice(namespaces)
        labels = {k: rnd.choice(v) for k, v in LABELS.items() if rnd.random() < 0.75}
        labels["pod-template-hash"] = rnd.choice(hashes)
        host_network = i % 200 == 199  # a node agent now and then
        name, numbers = rnd.choice(SERVICE_PORTS)
        ports = [{"name": name, "containerPort": rnd.choice(numbers)}, {"name": "metrics", "containerPort": rnd.choice(METRICS_PORTS)}]
        if rnd.random() < 0.05:
            ports.append({"name": "dns", "containerPort": 53, "protocol": "UDP"})
        spec: dict = {"containers": [{"name": "main", "image": "registry.k8s.io/e2e-test-images/agnhost:2.66.1", "ports": ports}]}
        node, node_ip = COURSE_NODES[i % len(COURSE_NODES)]
        if host_network:
            spec["hostNetwork"] = True
            spec["nodeName"] = node
        ip = node_ip if host_network else f"10.244.{i // 250}.{i % 250 + 2}"
        docs.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{labels.get('app', 'pod')}-{i}", "namespace": ns, "labels": labels},
            "spec": spec,
            "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]},
        })
    n_subnets = max(1, (n_pods + 249) // 250)
    for k in range(n_policies):
        ns = rnd.choice(namespaces)
        spec: dict = {"podSelector": _selector(rnd, LABELS)}
        types = rnd.choice([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        if types:
            spec["policyTypes"] = types
        if rnd.random() >= 0.1:  # one in ten is a default deny: no rules at all
            if types is None or "Ingress" in types:
                spec["ingress"] = _rules(rnd, "from", n_subnets)
            if types is None and rnd.random() < 0.5 or types and "Egress" in types:
                spec["egress"] = _rules(rnd, "to", n_subnets)
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": f"np-{k}", "namespace": ns}, "spec": spec})
    return docs


# ----------------------------------------------------------------------------------- friendly shape

TIERS = {"web": (8080, "http"), "api": (8443, "https"), "db": (5432, "postgres"), "cache": (6379, "redis"), "worker": (7000, "grpc")}
TEAMS = ("payments", "search", "identity", "growth", "platform")


def _deployment(ns: str, name: str, labels: dict, replicas: int, ports: list[dict]) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [{"name": "main", "image": "registry.k8s.io/e2e-test-images/agnhost:2.66.1", "ports": ports}]}}},
    }


def friendly_manifests(n_pods: int, n_policies: int, seed: int = 1) -> list[dict]:
    """Deployments (few label groups, many replicas) and per-namespace policy templates."""
    rnd = random.Random(seed)
    app_ns = [f"team-{i}" for i in range(max(3, n_pods // 100))]
    docs: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring", "labels": {"team": "platform", "purpose": "monitoring"}}}]
    for i, ns in enumerate(app_ns):
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"team": TEAMS[i % len(TEAMS)], "env": rnd.choice(["prod", "staging"])}}})
    docs.append(_deployment("monitoring", "prometheus", {"app": "prometheus", "tier": "worker"}, 3,
                            [{"name": "grpc", "containerPort": 7000}, {"name": "metrics", "containerPort": 9090}]))
    made = 3
    apps: list[tuple[str, str]] = []
    while made < n_pods:
        ns = rnd.choice(app_ns)
        tier = rnd.choice(list(TIERS))
        app = f"{tier}-{len(apps)}"
        apps.append((ns, app))
        port, pname = TIERS[tier]
        ports = [{"name": pname, "containerPort": port}, {"name": "metrics", "containerPort": 9090}]
        replicas = min(n_pods - made, max(1, int(rnd.paretovariate(1.2))))
        canary = replicas // 5
        docs.append(_deployment(ns, app, {"app": app, "tier": tier, "version": "v1"}, replicas - canary, ports))
        if canary:
            docs.append(_deployment(ns, f"{app}-canary", {"app": app, "tier": tier, "version": "v2"}, canary, ports))
        made += replicas
    templates = [
        lambda ns, k: {"podSelector": {}, "policyTypes": ["Ingress"]},
        lambda ns, k: {"podSelector": {}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                           "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                                   "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]},
        lambda ns, k: {"podSelector": {}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"podSelector": {}}]},
                                  {"to": [{"namespaceSelector": {"matchLabels": {"team": rnd.choice(TEAMS)}}}], "ports": [{"port": "https"}, {"port": 8080}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"tier": "db"}},
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "api"}}}], "ports": [{"port": "postgres"}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"tier": "api"}},
                       "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "worker"]}]}},
                                             {"namespaceSelector": {"matchLabels": {"team": rnd.choice(TEAMS)}}, "podSelector": {"matchLabels": {"tier": "web"}}}],
                                    "ports": [{"port": "https"}]}]},
        lambda ns, k: {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}}], "ports": [{"port": "metrics"}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"tier": "web"}},
                       "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16"]}}], "ports": [{"port": 8080}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"tier": "worker"}}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": [f"10.244.{k % 3}.0/24"]}}], "ports": [{"port": 30000, "endPort": 32767}]},
                                  {"to": [{"podSelector": {"matchLabels": {"tier": "cache"}}}], "ports": [{"port": "redis"}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"version": "v2"}},
                       "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"app": rnd.choice([a for n, a in apps if n == ns] or ["none"])}},
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": rnd.choice(apps)[1]}}, "namespaceSelector": {}}],
                                    "ports": [{"port": 8000, "endPort": 8999}]}]},
    ]
    for k in range(n_policies):
        ns = app_ns[k % len(app_ns)]
        spec = templates[(k // len(app_ns)) % len(templates)](ns, k)
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": f"np-{k}", "namespace": ns}, "spec": spec})
    return docs


SHAPES = {"varied": varied_manifests, "friendly": friendly_manifests}

# ------------------------------------------------------------------------------------------ writing


def _dump(docs: list[dict]) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump_all(docs, Dumper=dumper, default_flow_style=None, sort_keys=False, width=200)


def write_case(folder: Path, docs: list[dict]) -> Path:
    """Write the manifests as a folder of YAML files (namespaces, pods in chunks, workloads, policies)."""
    folder.mkdir(parents=True, exist_ok=True)
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    (folder / "00-namespaces.yaml").write_text(_dump(by_kind.pop("Namespace", [])))
    for kind in ("Pod", "Deployment"):
        items = by_kind.pop(kind, [])
        for start in range(0, len(items), PODS_PER_FILE):
            (folder / f"10-{kind.lower()}s-{start // PODS_PER_FILE:03d}.yaml").write_text(_dump(items[start : start + PODS_PER_FILE]))
    policies = by_kind.pop("NetworkPolicy", [])
    for start in range(0, len(policies), 1000):
        (folder / f"20-policies-{start // 1000:03d}.yaml").write_text(_dump(policies[start : start + 1000]))
    assert not by_kind, by_kind
    return folder


# ------------------------------------------------------------------------------------------ running


def run_once(cmd: list[str], cwd: Path, out: Path, env: dict | None = None) -> tuple[float, float, float, int, int, str]:
    """(wall seconds, CPU seconds, peak RSS MB, output bytes, exit status, stderr) of one process, stdout to `out`."""
    with open(out, "wb") as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        elapsed = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        err = stderr.read().decode(errors="replace")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.stat().st_size, p.returncode, err


class Runner:
    def __init__(self, repo: Path, repeat: int, workdir: Path):
        self.repo, self.repeat, self.workdir = repo, repeat, workdir
        self.env = dict(os.environ, PYTHONPATH=str(repo))  # the checkout under test, not an installed copy
        self.cases: dict[tuple[str, int, int], Path] = {}
        help_text = subprocess.run([sys.executable, "-m", "grader.cli", "sim", "matrix", "--help"], cwd=repo, env=self.env,
                                   capture_output=True, text=True).stdout
        self.options = {o for o in ("--summary", "--max-cells") if o in help_text}  # an older checkout lacks them

    def case(self, shape: str, pods: int, policies: int) -> Path:
        key = (shape, pods, policies)
        if key not in self.cases:
            self.cases[key] = write_case(self.workdir / f"{shape}-{pods}-{policies}", SHAPES[shape](pods, policies))
        return self.cases[key]

    def grade_cmd(self, folder: Path, mode: str, no_limit: bool = False) -> list[str]:
        extra = {"text": [], "json": ["--json"], "summary": ["--summary"]}[mode]
        if no_limit and mode == "text" and "--max-cells" in self.options:
            extra = ["--max-cells", "0"]  # a growth row measures the table past the size a user is refused at
        return [sys.executable, "-m", "grader.cli", "sim", "matrix", str(folder), *extra]

    def measure(self, shape: str, pods: int, policies: int, mode: str, no_limit: bool = False, repeat: int | None = None) -> dict:
        folder = self.case(shape, pods, policies)
        times, cpus, peaks = [], [], []
        size, status, err = 0, 0, ""
        load_before = os.getloadavg()[0]
        if mode == "summary" and "--summary" not in self.options:
            return {"shape": shape, "pods": pods, "policies": policies, "mode": mode, "status": -1, "load": load_before, "error": "no --summary in this checkout"}
        for _ in range(repeat or self.repeat):
            t, cpu, rss, size, status, err = run_once(self.grade_cmd(folder, mode, no_limit), self.repo, self.workdir / "out", self.env)
            if status != 0:
                break
            times.append(t)
            cpus.append(cpu)
            peaks.append(rss)
        row = {"shape": shape, "pods": pods, "policies": policies, "mode": mode, "status": status,
               "load": (load_before + os.getloadavg()[0]) / 2, "out_mb": size / 1e6}
        if status != 0:
            row["error"] = (err.strip().splitlines() or ["?"])[-1][:100]
            return row
        row.update(median=statistics.median(times), min=min(times), cpu=statistics.median(cpus), peak_mb=max(peaks))
        return row


def print_rows(rows: list[dict]) -> None:
    head = f"{'shape':8} {'pods':>6} {'policies':>8} {'mode':8} {'median s':>9} {'min s':>7} {'cpu s':>7} {'peak MB':>8} {'out MB':>8} {'load 1m':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        left = f"{r['shape']:8} {r['pods']:>6} {r['policies']:>8} {r['mode']:8}"
        if r["status"] != 0:
            print(f"{left} exit {r['status']}: {r.get('error', '')}  (load {r['load']:.1f})")
            continue
        print(f"{left} {r['median']:9.2f} {r['min']:7.2f} {r['cpu']:7.2f} {r['peak_mb']:8.0f} {r['out_mb']:8.1f} {r['load']:7.1f}", flush=True)


def fitted_exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x): cost ~ x**slope."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


# ------------------------------------------------------------------------------------------- extras


def phases(repo: Path, folder: Path) -> None:
    """Where the time of one `grade sim matrix` goes, in-process, one run: validation reported apart.

    CPU seconds of this one process (time.process_time), which a busy machine inflates far less
    than wall-clock time.
    """
    code = f"""
import io, sys, time, glob
t0 = time.process_time()
import yaml
from pathlib import Path
import grader.cli
from grader.manifests import load
from grader.model.reachability import grouped_matrix
from grader.model.workloads import build_world, is_system_namespace
t1 = time.process_time()
try:
    import kubernetes.client  # what grader.manifests validated with when this was written; imported on first use
except ImportError:
    pass
t2 = time.process_time()
loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
for f in sorted(glob.glob({str(folder)!r} + '/*.yaml')):
    list(yaml.compose_all(open(f).read(), Loader=loader))
t3 = time.process_time()
manifests = load([Path({str(folder)!r})])
t4 = time.process_time()
world = build_world(manifests, include_system=True)
t5 = time.process_time()
pods = [p for p in world.pods if not is_system_namespace(p.namespace)]
grouped = grouped_matrix(world, pods)
t6 = time.process_time()
everyone = list(range(len(pods)))
with open('/dev/null', 'w') as out:
    for chunk in grouped.text_tables(everyone, everyone):
        out.write(chunk)
t7 = time.process_time()
print(f"imports {{t1-t0:.2f}} + kubernetes.client import {{t2-t1:.2f}} | YAML compose alone {{t3-t2:.2f}} | "
      f"manifests.load {{t4-t3:.2f}} (so validation ~{{(t4-t3)-(t3-t2):.2f}}) | build_world {{t5-t4:.2f}} | "
      f"grouped matrix {{t6-t5:.2f}} | text output {{t7-t6:.2f}}   [CPU seconds; load {{__import__('os').getloadavg()[0]:.1f}}]")
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    print(p.stdout.strip() or f"(this checkout cannot be timed in phases: {(p.stderr.strip().splitlines() or ['?'])[-1][:100]})")


def instructions(runner: Runner, shape: str, pods: int, policies: int, mode: str) -> str:
    """Instructions executed by the whole command (valgrind callgrind): stable on a shared machine."""
    if not shutil.which("valgrind"):
        return "valgrind not installed"
    folder = runner.case(shape, pods, policies)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *runner.grade_cmd(folder, mode)]
    p = subprocess.run(cmd, cwd=runner.repo, env=runner.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m = re.search(r"Collected\s*:\s*(\d+)", p.stderr)
    return f"{int(m.group(1)) / 1e9:.2f} G instructions" if m else f"no count (exit {p.returncode})"


def cyclonus_files(docs: list[dict], folder: Path) -> tuple[Path, Path]:
    """The same cluster as cyclonus/policy-assistant read it: a NetworkPolicyList and a probe model."""
    from grader.model.objects import Raw
    from grader.model.policy import policy_types

    policies = []
    for d in docs:
        if d["kind"] == "NetworkPolicy":
            p = json.loads(json.dumps(d))
            # they require explicit policyTypes: write what the API server defaults to
            p["spec"]["policyTypes"] = sorted(policy_types(Raw("NetworkPolicy", p["metadata"]["namespace"], p["metadata"]["name"], d)))
            policies.append(p)
    policy_file = folder / "policies.yaml"
    policy_file.write_text(_dump([{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "items": policies}]))
    ns_labels = {d["metadata"]["name"]: {**d["metadata"].get("labels", {}), "kubernetes.io/metadata.name": d["metadata"]["name"]}
                 for d in docs if d["kind"] == "Namespace"}
    pods, probes = [], {}
    for d in docs:
        if d["kind"] != "Pod":
            continue
        containers = []
        for i, port in enumerate(d["spec"]["containers"][0]["ports"]):
            proto = port.get("protocol", "TCP")
            containers.append({"Name": f"c{i}", "Port": port["containerPort"], "Protocol": proto, "PortName": port["name"]})
            probes[(port["containerPort"], proto)] = None
        pods.append({"Namespace": d["metadata"]["namespace"], "Name": d["metadata"]["name"], "Labels": d["metadata"]["labels"],
                     "IP": d["status"]["podIP"], "Containers": containers})
    model = {"Resources": {"Namespaces": ns_labels, "Pods": pods},
             "Probes": [{"Port": port, "Protocol": proto} for port, proto in sorted(probes)]}
    model_file = folder / "probe-model.json"
    model_file.write_text(json.dumps(model))
    return policy_file, model_file


def their_cells(output: str, model_file: Path) -> dict[tuple[str, str, int, str], bool]:
    """The "Combined" truth tables of `analyze --mode probe`, one per probe, as cells (N: no such port)."""
    probes = [(p["Port"], p["Protocol"]) for p in json.loads(model_file.read_text())["Probes"]]
    cells = {}
    sections = [part.split("\nIngress:")[0] for part in output.split("Combined:\n")[1:]]
    for (port, proto), section in zip(probes, sections):
        rows = [line for line in section.split("\n") if line.startswith("|")]
        if not rows:
            continue
        columns = [c.strip().lower() for c in rows[0].strip("|").split("|")][1:]  # headers are upper-cased
        for row in rows[1:]:
            values = [c.strip() for c in row.strip("|").split("|")]
            for dst, v in zip(columns, values[1:]):
                if v in (".", "X"):
                    cells[values[0], dst, port, proto] = v == "."
    return cells


def compare(runner: Runner, binary: str, cases: list[tuple[int, int]]) -> None:
    print(f"\n== {Path(binary).name} (analyze --mode probe) on the same varied clusters, against `grade sim matrix` (text)")
    print("(theirs reads a NetworkPolicyList and a JSON model of the pods; ours reads the YAML and validates it)")
    head = (f"{'pods':>6} {'policies':>8} {'theirs s':>9} {'cpu s':>6} {'peak MB':>8} {'ours s':>8} {'cpu s':>6} {'peak MB':>8} "
            f"{'theirs/ours':>11} {'cpu ratio':>9} {'load 1m':>7}  cells that differ")
    print(head)
    print("-" * len(head))
    for pods, policies in cases:
        docs = varied_manifests(pods, policies)
        folder = runner.workdir / f"cyclonus-{pods}-{policies}"
        folder.mkdir(exist_ok=True)
        policy_file, model_file = cyclonus_files(docs, folder)
        load_before = os.getloadavg()[0]
        theirs, cpus, peaks = [], [], []
        for _ in range(runner.repeat):
            t, cpu, rss, _size, status, err = run_once([binary, "analyze", "--mode", "probe", "--policy-path", str(policy_file), "--probe-path", str(model_file)],
                                                       runner.repo, runner.workdir / "out-cyclonus")
            if status != 0:
                print(f"{pods:>6} {policies:>8} exit {status}: {err.strip().splitlines()[-1][:120] if err.strip() else ''}")
                break
            theirs.append(t)
            cpus.append(cpu)
            peaks.append(rss)
        if len(theirs) < runner.repeat:
            continue
        ours = runner.measure("varied", pods, policies, "text")
        load = (load_before + os.getloadavg()[0]) / 2
        if ours["status"] != 0:
            print(f"{pods:>6} {policies:>8} ours: exit {ours['status']} {ours.get('error', '')}")
            continue
        # the same question, answered twice: which cells do the two engines disagree on?
        their = their_cells((runner.workdir / "out-cyclonus").read_text(), model_file)
        run_once(runner.grade_cmd(runner.case("varied", pods, policies), "json"), runner.repo, runner.workdir / "out-ours", runner.env)
        ours_cells = {(c["from"], c["to"], c["port"], c["protocol"]): c["allowed"] for c in json.loads((runner.workdir / "out-ours").read_text())}
        differ = [k for k in ours_cells if k in their and their[k] != ours_cells[k]]
        to_itself = sum(1 for k in differ if k[0] == k[1])
        t_theirs, c_theirs = statistics.median(theirs), statistics.median(cpus)
        print(f"{pods:>6} {policies:>8} {t_theirs:9.2f} {c_theirs:6.2f} {max(peaks):8.0f} {ours['median']:8.2f} {ours['cpu']:6.2f} {ours['peak_mb']:8.0f} "
              f"{t_theirs / ours['median']:11.1f} {c_theirs / ours['cpu']:9.1f} {load:7.1f}  "
              f"{len(differ):,} of {len(ours_cells):,} ({to_itself} a pod to itself; compared {sum(1 for k in ours_cells if k in their):,})", flush=True)
    print("Known differences (checked by hand): they do not treat a pod's traffic to itself as always allowed, and their\n"
          "NotIn does not match a pod without the key, where Kubernetes' does (apimachinery labels.Requirement.Matches;\n"
          "kubernetes/kubernetes#81149); on clusters without NotIn only the cells of a pod to itself differ.")


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the target rows only, no growth tables")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the median is printed (default 3)")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout whose `grade` is measured (default: this one)")
    parser.add_argument("--phases", action="store_true", help="also time load/validation, build_world and matrix+output in-process")
    parser.add_argument("--instructions", action="store_true", help="also count instructions of the target rows with valgrind (slow)")
    parser.add_argument("--compare", metavar="BIN", help="a cyclonus or policy-assistant binary to run on the same clusters")
    parser.add_argument("--keep", type=Path, help="write the generated YAML here and keep it")
    parser.add_argument("--compare-sizes", nargs="+", default=["120,100", "250,200"], metavar="PODS,POLICIES",
                        help="cluster sizes for --compare (theirs grows fast: 250 pods take minutes)")
    parser.add_argument("--pods", type=int, nargs="+", default=[250, 500, 1000, 2000], help="pod counts of the growth table")
    parser.add_argument("--policies", type=int, nargs="+", default=[50, 200, 500], help="policy counts of the growth table")
    parser.add_argument("--modes", nargs="+", default=["text", "json", "summary"], help="modes of the growth table with pods")
    parser.add_argument("--rows", nargs="+", metavar="SHAPE,PODS,POLICIES,MODE", help="measure only these rows, e.g. varied,1000,200,text")
    args = parser.parse_args(argv)

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="sim-scale-"))
    runner = Runner(args.repo.resolve(), args.repeat, workdir)
    print(f"grade from {runner.repo}; inputs in {workdir}; {os.cpu_count()} CPUs; `uptime` load: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; median of {args.repeat} runs")
    try:
        if args.rows:
            rows = []
            for spec in args.rows:
                shape, pods, policies, mode = spec.split(",")
                rows.append(runner.measure(shape, int(pods), int(policies), mode, no_limit=True))
            print_rows(rows)
        else:
            targets_and_growth(runner, args)
        extras(runner, args)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def targets_and_growth(runner: Runner, args: argparse.Namespace) -> None:
    print("\n== targets (issue 18)")
    targets = [
        ("varied", 1000, 200, "text"), ("varied", 1000, 200, "json"), ("varied", 1000, 200, "summary"),
        ("friendly", 1000, 200, "text"), ("friendly", 1000, 200, "json"),
        ("varied", 5000, 500, "summary"), ("varied", 5000, 500, "text"),
    ]
    rows = [runner.measure(*t) for t in targets]
    print_rows(rows)
    by = {(r["shape"], r["pods"], r["policies"], r["mode"]): r for r in rows}

    def verdict(key, limit_s, limit_mb=None, refused=False):
        r = by[key]
        if refused:
            return "met (refused with a message)" if r["status"] == 2 else f"NOT met (exit {r['status']})"
        if r["status"] != 0:
            return f"NOT met (exit {r['status']})"
        ok = r["median"] <= limit_s and (limit_mb is None or r["peak_mb"] <= limit_mb)
        return ("met" if ok else "NOT met") + f" (wall {r['median']:.2f} s, CPU {r['cpu']:.2f} s" + (f", {r['peak_mb']:.0f} MB)" if limit_mb else ")")

    print(f"varied 1,000 x 200 text <= 2 s: {verdict(('varied', 1000, 200, 'text'), 2)}")
    print(f"varied 1,000 x 200 --json <= 3 s, <= 400 MB: {verdict(('varied', 1000, 200, 'json'), 3, 400)}")
    print(f"friendly 1,000 x 200 text <= 1 s: {verdict(('friendly', 1000, 200, 'text'), 1)}")
    print(f"varied 5,000 x 500 --summary <= 10 s: {verdict(('varied', 5000, 500, 'summary'), 10)}")
    print(f"varied 5,000 x 500 text refused: {verdict(('varied', 5000, 500, 'text'), 0, refused=True)}")
    print("(the machine may be shared: compare the load column; the numbers are wall-clock of the whole process)")

    if not args.quick:
        for mode in args.modes:
            print(f"\n== growth with pods (varied, 200 policies, {mode})")
            grow = [runner.measure("varied", n, 200, mode, no_limit=True) for n in args.pods]
            print_growth(grow, "pods")
        print("\n== growth with policies (varied, 1,000 pods, text)")
        print_growth([runner.measure("varied", 1000, n, "text") for n in args.policies], "policies")


def print_growth(grow: list[dict], axis: str) -> None:
    """The rows of a growth table and the exponent fitted to those that succeeded, along `axis` (pods or policies)."""
    print_rows(grow)
    ok = [r for r in grow if r["status"] == 0]
    if len(ok) >= 2:
        xs = [r[axis] for r in ok]
        print(f"fitted exponent: wall time ~ {axis}^{fitted_exponent(xs, [r['median'] for r in ok]):.2f}, "
              f"CPU time ~ {axis}^{fitted_exponent(xs, [r['cpu'] for r in ok]):.2f}")


def extras(runner: Runner, args: argparse.Namespace) -> None:
    if args.phases:
        print("\n== where the time goes (in-process, one run each)")
        for shape in ("varied", "friendly"):
            print(f"{shape} 1,000 x 200: ", end="", flush=True)
            phases(runner.repo, runner.case(shape, 1000, 200))
    if args.instructions:
        print("\n== instruction counts (valgrind callgrind; one run each; independent of machine load)")
        for t in [("varied", 1000, 200, "text"), ("varied", 1000, 200, "json"), ("friendly", 1000, 200, "text")]:
            print(f"{t[0]} {t[1]} x {t[2]} {t[3]}: {instructions(runner, *t)}", flush=True)
    if args.compare:
        compare(runner, args.compare, [tuple(map(int, size.split(","))) for size in args.compare_sizes])


if __name__ == "__main__":
    sys.exit(main())
