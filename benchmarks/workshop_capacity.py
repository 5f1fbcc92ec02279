"""How many workshop learners a cluster holds, from the exercises' real manifests.

Counts the pods each lesson's solution + fixtures run (as the simulator schedules them: replicas, every
namespace), and their CPU/memory requests: a container's own requests, else the workshop LimitRange's
defaults (the course manifests set none). Then divides what a cluster offers by what a learner needs.

    python benchmarks/workshop_capacity.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.lessons import list_lessons  # noqa: E402
from grader.manifests import load  # noqa: E402
from grader.lab import manifest_files  # noqa: E402
from grader.workshop.setup import ContainerDefaults  # noqa: E402

DEFAULTS = ContainerDefaults()
SYSTEM_PODS_PER_NODE = 3  # kube-proxy, kindnet, one of CoreDNS/local-path/etc. per node
MAX_PODS_PER_NODE = 110  # kubelet default


def cpu_m(q: str) -> float:
    return float(q[:-1]) if q.endswith("m") else float(q) * 1000


def mem_mi(q: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1 / 1048.576, "M": 1 / 1.048576, "G": 1000 / 1.048576}
    for u, f in units.items():
        if q.endswith(u):
            return float(q[: -len(u)]) * f
    return float(q) / 1048576


def pod_specs(manifest) -> tuple[int, dict]:
    obj = manifest.obj
    kind = obj.get("kind")
    if kind == "Pod":
        return 1, obj.get("spec") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        return int((obj.get("spec") or {}).get("replicas", 1)), ((obj["spec"].get("template") or {}).get("spec") or {})
    if kind == "DaemonSet":
        return 2, ((obj["spec"].get("template") or {}).get("spec") or {})  # two schedulable workers
    return 0, {}


def lesson_needs(lesson) -> dict:
    ms = load(manifest_files([p for p in (lesson.fixtures, lesson.solution) if p.is_dir()]), namespace=lesson.namespace)
    pods = containers = 0
    cpu = mem = 0.0
    for m in ms:
        n, spec = pod_specs(m)
        for c in (spec.get("containers") or []) if n else []:
            req = (c.get("resources") or {}).get("requests") or {}
            cpu += n * cpu_m(str(req.get("cpu", DEFAULTS.cpu_request)))
            mem += n * mem_mi(str(req.get("memory", DEFAULTS.memory_request)))
            containers += n
        pods += n
    return {"lesson": lesson.id, "namespaces": len(lesson.namespaces), "pods": pods, "containers": containers, "cpu_m": cpu, "mem_mi": mem}


def capacity(nodes: int, cpu_per_node_m: float, mem_per_node_mi: float, need: dict, reserve_cpu_m: float, reserve_mem_mi: float) -> tuple[int, str]:
    """Learners that fit on `nodes` schedulable nodes, and which resource runs out first."""
    pods_room = nodes * (MAX_PODS_PER_NODE - SYSTEM_PODS_PER_NODE)
    cpu_room = nodes * (cpu_per_node_m - reserve_cpu_m)
    mem_room = nodes * (mem_per_node_mi - reserve_mem_mi)
    limits = {"pods": pods_room // max(need["pods"], 1), "CPU requests": int(cpu_room // max(need["cpu_m"], 1)), "memory requests": int(mem_room // max(need["mem_mi"], 1))}
    binding = min(limits, key=limits.get)
    return limits[binding], binding


def main() -> None:
    rows = [lesson_needs(l) for l in list_lessons()]
    print(f"Per learner, per lesson (solution + fixtures; requests default to the LimitRange's {DEFAULTS.cpu_request} CPU / {DEFAULTS.memory_request} per container):")
    print(f"{'lesson':<9} {'namespaces':>10} {'pods':>5} {'CPU req':>9} {'mem req':>9}")
    for r in rows:
        print(f"{r['lesson']:<9} {r['namespaces']:>10} {r['pods']:>5} {r['cpu_m']:>7.0f}m {r['mem_mi']:>6.0f}Mi")
    one = max(rows, key=lambda r: r["pods"])
    every = {"pods": sum(r["pods"] for r in rows), "cpu_m": sum(r["cpu_m"] for r in rows), "mem_mi": sum(r["mem_mi"] for r in rows)}
    print(f"busiest lesson: {one['lesson']} ({one['pods']} pods, {one['cpu_m']:.0f}m CPU, {one['mem_mi']:.0f}Mi)")
    print(f"all lessons left running: {every['pods']} pods, {every['cpu_m']:.0f}m CPU, {every['mem_mi']:.0f}Mi")
    print()
    # kind: every node container sees the laptop's CPUs and memory, so the real limit is the laptop, shared by 2 workers.
    clusters = [
        ("kind on a laptop (8 CPU, 16 GiB for Docker; 2 workers share it)", 2, 8000 / 2, 16384 / 2, 1000 / 2, 4096 / 2),
        ("3-node cluster (3 x 4 vCPU, 16 GiB; all schedulable)", 3, 4000, 16384, 400, 2048),
    ]
    for name, nodes, cpu, mem, rcpu, rmem in clusters:
        print(name)
        for label, need in (("one lesson at a time (busiest)", one), ("all lessons left running", every)):
            n, binding = capacity(nodes, cpu, mem, need, rcpu, rmem)
            print(f"  {label:<32} {n:>4} learners (limited by {binding})")


if __name__ == "__main__":
    main()
