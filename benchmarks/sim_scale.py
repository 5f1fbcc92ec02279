"""How fast the simulator computes NetworkPolicy reachability matrices on large clusters.

Run: python benchmarks/sim_scale.py [--quick]

Generates synthetic clusters (100, 1,000 and 5,000 pods; 20 to 500 policies) with realistic shapes:
namespaces owned by teams, Deployments with Zipf-like replica counts, tier/app/version labels, two
container ports per pod (one named service port, one named metrics port), and per-namespace
policies: default deny, tier-to-tier allows, cross-namespace allows by team label, monitoring on the
named metrics port, DNS egress, ipBlock egress with except, and endPort ranges.

What is timed (one core, wall clock, best of `--repeat` runs):
- group: `grouped_matrix(world)`: compiling the policies, grouping pods by signature and evaluating
  every (source group, destination group, port) once.
- cells: expanding that into MatrixCell objects (what `matrix()` returns); total = group + cells.
  For 5,000 pods (25M+ cells) materialising Python objects is not useful, so only `count()` (allowed
  and total cells computed from the groups) is timed and "cells" shows "-".
- naive (100 pods only): calling `evaluate()` on every (src, dst, port), for comparison.
Target (issue): 1,000 x 1,000 pods x 2 ports with 200 policies in under 2 s for `matrix()`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from grader.model.objects import ContainerPort, Namespace, Node, Pod, Raw, World
from grader.model.policy import evaluate, grouped_matrix, matrix

TIERS = {
    "web": (8080, "http"),
    "api": (8443, "https"),
    "db": (5432, "postgres"),
    "cache": (6379, "redis"),
    "worker": (7000, "grpc"),
}
TEAMS = ("payments", "search", "identity", "growth", "platform")
NODES = [Node(f"node-{i}", f"172.18.0.{i + 2}") for i in range(20)]


def _policy(ns: str, name: str, spec: dict) -> Raw:
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    return Raw(kind="NetworkPolicy", namespace=ns, name=name, obj=obj)


def generate(n_pods: int, n_policies: int, seed: int = 1) -> World:
    """A synthetic cluster with `n_pods` pods and exactly `n_policies` NetworkPolicies."""
    rnd = random.Random(seed)
    n_ns = max(3, n_pods // 100)
    namespaces = {"monitoring": Namespace("monitoring", {"team": "platform", "purpose": "monitoring"}),
                  "kube-system": Namespace("kube-system", {})}
    app_ns = [f"team-{i}" for i in range(n_ns)]
    for i, ns in enumerate(app_ns):
        namespaces[ns] = Namespace(ns, {"team": TEAMS[i % len(TEAMS)], "env": rnd.choice(["prod", "staging"])})

    pods: list[Pod] = []

    def add_pod(ns: str, app: str, tier: str, version: str, host_network: bool = False) -> None:
        i = len(pods)
        node = NODES[i % len(NODES)]
        port, name = TIERS.get(tier, (9153, "dns"))
        ports = [ContainerPort(port, "TCP", name), ContainerPort(9090, "TCP", "metrics")]
        if tier == "dns":
            ports = [ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns-tcp")]
        pods.append(Pod(
            namespace=ns, name=f"{app}-{i}", labels={"app": app, "tier": tier, "version": version, "pod-template-hash": f"{app}-{version}"},
            ip=node.ip if host_network else f"10.244.{i // 250}.{i % 250 + 2}", node=node.name, ports=ports, host_network=host_network,
        ))

    for _ in range(2):
        add_pod("kube-system", "coredns", "dns", "v1")
    add_pod("kube-system", "node-agent", "agent", "v1", host_network=True)
    for _ in range(3):
        add_pod("monitoring", "prometheus", "worker", "v1")
    # Deployments with Zipf-like replica counts until the pod budget is spent
    apps: list[tuple[str, str, str]] = []
    while len(pods) < n_pods:
        ns = rnd.choice(app_ns)
        tier = rnd.choice(list(TIERS))
        app = f"{tier}-{len(apps)}"
        apps.append((ns, app, tier))
        replicas = min(n_pods - len(pods), max(1, int(rnd.paretovariate(1.2))))
        for r in range(replicas):
            add_pod(ns, app, tier, "v2" if r % 5 == 4 else "v1")  # a canary fifth on v2

    policies: list[Raw] = []
    templates = [
        lambda ns, k: {"podSelector": {}, "policyTypes": ["Ingress"]},
        lambda ns, k: {"podSelector": {}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                           "podSelector": {"matchLabels": {"app": "coredns"}}}],
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
        lambda ns, k: {"podSelector": {"matchLabels": {"tier": "web"}}, "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.244.0.0/16"]}}],
                                                                                     "ports": [{"port": 8080}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"tier": "worker"}}, "policyTypes": ["Egress"],
                       "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": [f"10.244.{k % 4}.0/24"]}}], "ports": [{"port": 30000, "endPort": 32767}]},
                                  {"to": [{"podSelector": {"matchLabels": {"tier": "cache"}}}], "ports": [{"port": "redis"}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"version": "v2"}},
                       "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}}]}]},
        lambda ns, k: {"podSelector": {"matchLabels": {"app": rnd.choice([a for n, a, _ in apps if n == ns] or ["none"])}},
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": rnd.choice(apps)[1]}}, "namespaceSelector": {}}],
                                    "ports": [{"port": 8000, "endPort": 8999}]}]},
    ]
    k = 0
    while len(policies) < n_policies:
        ns = app_ns[k % len(app_ns)]
        spec = templates[(k // len(app_ns)) % len(templates)](ns, k)
        policies.append(_policy(ns, f"np-{k}", spec))
        k += 1
    return World(nodes=NODES, namespaces=namespaces, pods=pods, policies=policies)


def best_of(repeat: int, fn):
    best, value = float("inf"), None
    for _ in range(repeat):
        value = None  # free the previous result first: its deallocation is not what we measure
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 100 and 1,000 pod clusters")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [(100, 20), (100, 50), (1000, 200), (1000, 500), (5000, 200), (5000, 500)]
    if args.quick:
        sizes = sizes[:4]
    header = f"{'pods':>6} {'policies':>8} {'ns':>4} {'src grp':>7} {'dst grp':>7} {'cells':>11} {'allowed':>11} {'group s':>8} {'cells s':>8} {'total s':>8} {'naive s':>8}"
    print(header)
    print("-" * len(header))
    for n_pods, n_policies in sizes:
        world = generate(n_pods, n_policies)
        t_group, grouped = best_of(args.repeat, lambda: grouped_matrix(world))
        allowed, total = grouped.count()
        if n_pods <= 1000:
            t_cells, cells = best_of(args.repeat, grouped.to_list)
            assert len(cells) == total and sum(c.allowed for c in cells) == allowed
            t_total, _ = best_of(args.repeat, lambda: matrix(world))
            cells_s, total_s = f"{t_cells:8.2f}", f"{t_total:8.2f}"
            del cells
        else:
            t_count, _ = best_of(args.repeat, lambda: grouped_matrix(world).count())
            cells_s, total_s = f"{'-':>8}", f"{t_count:8.2f}"
        naive_s = f"{'-':>8}"
        if n_pods <= 100:
            def naive():
                return sum(
                    evaluate(world, s, d, p.port, p.protocol).allowed or s is d
                    for s in world.pods for d in world.pods for p in d.ports
                )
            t_naive, naive_allowed = best_of(1, naive)
            assert naive_allowed == allowed, "the grouped matrix disagrees with per-pair evaluate()"
            naive_s = f"{t_naive:8.2f}"
        print(f"{n_pods:>6} {n_policies:>8} {len(world.namespaces):>4} {len(grouped.src_groups):>7} {len(grouped.dst_groups):>7} "
              f"{total:>11,} {allowed:>11,} {t_group:8.2f} {cells_s} {total_s} {naive_s}", flush=True)
    print("\ngroup = grouped_matrix(); cells = expanding to MatrixCell objects; total = matrix() "
          "(5,000 pods: grouped_matrix().count(), nothing materialised); naive = evaluate() per cell.")
    print("target: 1,000 pods x 200 policies, total under 2 s on one core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
