from nbwrite import code, md

NAME = "01-pod-networking"

CELLS = [
md(r"""
# Lesson 1: Pod networking

**You will learn** the three principles of the Kubernetes network model, how a CNI plugin makes them
true, how Calico, Flannel, Weave Net and Cilium differ, and how to prove each principle with packets.

**How these notebooks work.** Each lesson *explains* an idea, *shows* it on real objects, asks you to
*predict* an outcome, then *verifies* it. Every claim below is checked by a cell that fails (an
`assert`) if the claim is false. The first code cell connects to the course cluster when it is up
(`grade cluster up`) and otherwise uses the course's simulator of Kubernetes networking semantics;
it prints which one it uses and how to switch (environment variable `GRADE_BACKEND=sim|live`, then
restart the kernel).
"""),
code(r"""
from grader.notebook import check_prediction, explain, open_lab, pod, pod_table, request_path, show_table, topology

lab = open_lab("01-pod-networking", namespace="pods-demo")
"""),
md(r"""
## The network model: three principles

Kubernetes does not ship a pod network. It states what any network must provide and leaves the
implementation to a plugin:

1. **Every pod gets its own IP address.** All containers of a pod share one network namespace (one
   IP, one port space, `localhost` between them). No port mapping between pods.
2. **Every pod can reach every other pod, on any node, without NAT.** The address a pod sees as the
   source of a connection is the real IP of the pod that opened it.
3. **Agents on a node (the kubelet, system daemons) can reach every pod on that node.** Pods with
   `hostNetwork: true` live in the node's own network namespace and use the node's IP.

Services (lesson 2), DNS (lesson 3) and NetworkPolicy (lesson 4) are built on top of this flat network.

The lab below has two servers (`agnhost netexec`, HTTP on 8080) pinned to the two workers, a client
on the first worker, and `node-probe`, a `hostNetwork` pod that stands for the control-plane node.
"""),
code(r"""
topology(lab)
"""),
code(r"""
pod_table(lab)
"""),
md(r"""
### Principle 1: one IP per pod

`kubectl get pods -o wide` shows it: each ordinary pod has an address of its own, and the
`hostNetwork` pod shows its node's address. On kind, pod IPs come from the node's slice of the pod
CIDR (`10.244.0.0/16` by default, one `/24` per node); with the course's Calico profile they come
from `192.168.0.0/16`.
"""),
code(r"""
pods = {p.name: p for p in lab.pods()}
ordinary = [p for p in pods.values() if not p.host_network]
assert len({p.ip for p in ordinary}) == len(ordinary), "two ordinary pods share an IP"
assert pods["node-probe"].ip not in {p.ip for p in ordinary}, "a hostNetwork pod uses its node's IP, not a pod IP"
assert pods["server-a"].node != pods["server-b"].node, "the servers are pinned to two different nodes"
print({name: (p.ip, p.node) for name, p in sorted(pods.items())})
"""),
md(r"""
### Principle 2: pod to pod across nodes, without NAT

The client runs on `course-worker`, `server-b` on `course-worker2`. The client connects to the
server's **pod IP** (no Service, no DNS) and asks it, with agnhost's `/clientip`, which source
address it saw. The diagram is the connection's path as the simulator's model explains it;
the last box is what the backend in use observed.
"""),
code(r"""
server_b = pod(lab, "server-b")
r = lab.connect("client", server_b.ip, 8080)
assert r.ok, r.evidence
request_path(r, lab)
"""),
code(r"""
seen = lab.client_ip("client", server_b.ip, 8080)
assert seen.ok, seen.evidence
print("client pod IP:", pod(lab, "client").ip, "| server saw:", seen.data["client_ip"])
assert seen.data["client_ip"] == pod(lab, "client").ip, "the source was translated: that would break principle 2"
"""),
md(r"""
### Principle 3: the node reaches its pods

`node-probe` shares the control-plane node's network namespace. It reaches pods, and a server sees
the **node's** address as the source: `hostNetwork` traffic is node traffic.
"""),
code(r"""
r = lab.connect("node-probe", pod(lab, "server-a").ip, 8080)
assert r.ok, r.evidence
seen = lab.client_ip("node-probe", pod(lab, "server-a").ip, 8080)
assert seen.ok, seen.evidence
assert seen.data["client_ip"] == pod(lab, "node-probe").ip, "a hostNetwork pod's traffic carries its node's IP"
print("node-probe (the node) is seen as", seen.data["client_ip"])
"""),
md(r"""
## Predict: which ports answer?

`server-a` runs `agnhost netexec --http-port=8080 --udp-port=8081` and declares `containerPort`s
8080/TCP and 8081/UDP. A `containerPort` is documentation: **the process decides what listens.**
Replace each `None` with `True` (connects) or `False` (refused), then run the next cell.
"""),
code(r"""
prediction = {
    "TCP 8080": None,
    "TCP 8081": None,
    "TCP 80": None,
}
"""),
code(r"""
server_a = pod(lab, "server-a").ip
actual = {case: lab.connect("client", server_a, int(case.split()[1]), case.split()[0]).ok for case in prediction}
assert actual == {"TCP 8080": True, "TCP 8081": False, "TCP 80": False}, actual
check_prediction(prediction, actual)
"""),
md(r"""
## How a CNI plugin makes the principles true

When the kubelet starts a pod, the container runtime creates the pod's network namespace and calls
the **CNI plugin** configured on the node (`/etc/cni/net.d/`). The plugin:

- creates a virtual Ethernet pair: one end in the pod (`eth0`), the other on the node (or attached to a bridge);
- gives the pod an IP with its **IPAM** (usually from the node's `podCIDR`) and a default route;
- makes every other node able to reach that IP: plain routes between nodes (kindnet, Calico BGP,
  Flannel host-gw), an **overlay** that wraps pod packets in node packets (VXLAN, IP-in-IP, Geneve),
  or **eBPF** programs that forward packets in the kernel;
- optionally enforces **NetworkPolicy** (lesson 4). Kubernetes stores policies; only the CNI acts on them.

| | dataplane | between nodes | NetworkPolicy | status |
|---|---|---|---|---|
| **kindnet** (kind's default) | Linux routing; nftables for policy | direct routes | yes since kind v0.24 (kube-network-policies); fails open if its dataplane fails | maintained with kind |
| **Calico** | iptables or nftables, or eBPF; also Windows and VPP | BGP without encapsulation, or IP-in-IP / VXLAN | yes, plus Calico's own policies (ordered rules, explicit deny, global policies) | maintained (Tigera, open source) |
| **Flannel** | Linux bridge and routing | VXLAN by default (host-gw, WireGuard backends) | **none**: policies are accepted by the API and have no effect (pair it with Calico, "Canal", if you need them) | maintained, deliberately small |
| **Weave Net** | Linux bridge, Open vSwitch fast datapath | its own encrypted-capable mesh overlay | yes (weave-npc) | **no longer maintained**: Weaveworks closed in 2024; do not choose it for new clusters |
| **Cilium** | eBPF (can replace kube-proxy) | VXLAN / Geneve, or native routing | yes, plus CiliumNetworkPolicy at L3-L7 (HTTP paths, DNS names), Hubble flow logs | maintained, CNCF graduated |

What the simulator can and cannot tell you: it models the *semantics* every conformant network must
have (who can reach whom, which address is seen, what a policy allows). It knows nothing about a real
dataplane: encapsulation, MTU problems, eBPF maps, BGP sessions, or performance. For those, use a
live cluster with that CNI (the course offers `grade cluster up --profile calico`).
"""),
md(r"""
### Flannel and a NetworkPolicy

Below, the same pods plus one policy: deny all ingress to every pod of the namespace. With a CNI that
enforces policy every connection is blocked. Then the **same manifests** on a modelled Flannel: the
API accepts the policy and nothing changes. (This second table is always the simulator: there is no
Flannel in the course cluster.)
"""),
code(r"""
sources, targets = ["client", "node-probe"], ["server-a", "server-b"]
enforcing = open_lab(["01-pod-networking", "01-deny-all"], namespace="pods-demo")
blocked = enforcing.reachability(sources, targets, 8080, expected=False)
assert not blocked.differences(), blocked.render()
show_table(blocked, "deny-all-ingress on a CNI that enforces NetworkPolicy")
"""),
code(r"""
flannel = open_lab(["01-pod-networking", "01-deny-all"], namespace="pods-demo", enforce_policy=False)
ignored = flannel.reachability(sources, targets, 8080, expected=False)
assert all(ignored.observed.values()), "on Flannel the policy must have no effect"
show_table(ignored, "the same policy on Flannel: expected blocked, observed allowed (thick borders)")
"""),
md(r"""
On a live kind cluster, the first table is a real test of enforcement: kindnet *fails open*, and
on WSL2 it has been reported not to enforce at all. If the first cell fails live, recreate the
cluster with `grade cluster up --profile calico`.

## Your turn: exercise 1

Open `exercises/lesson1/README.md`. You write two pods on different nodes and prove the three
principles; the grader probes them with the same calls you used above.

```sh
grade lesson1              # copies the starter to work/lesson1/ the first time, then grades it
grade hint lesson1 TASK    # three hints per task, from vague to exact
```
"""),
]
