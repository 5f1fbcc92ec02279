from nbwrite import code, md

NAME = "06-debugging"

CELLS = [
md(r"""
# Lesson 6: Debugging, step by step

"It does not connect" has five usual causes, and they are found fastest in one order, from the pod
outwards. Each step has its commands; each step here fixes one real bug in a small app: a
`frontend` pod in `debug-front` calls the `backend` Service in `debug-back`, and the outside world
reaches the backend through an Ingress.

| step | question | commands |
|---|---|---|
| 1. **pod** | Is the target running, ready, with the labels I think, listening on the port I think? | `kubectl get pods -n NS -o wide --show-labels`, `kubectl describe pod`, `kubectl logs`, `kubectl exec POD -- netstat -tln` (or `ss -tln`) |
| 2. **endpoints** | Does the Service select those pods, with the right `targetPort`? | `kubectl get svc NS/NAME -o yaml`, `kubectl get endpointslices -n NS -l kubernetes.io/service-name=NAME`, `kubectl exec CLIENT -- /agnhost connect POD_IP:PORT --timeout=1s` |
| 3. **DNS** | Does the name resolve, from the client's namespace, to the Service? | `kubectl exec CLIENT -- nslookup NAME`, `kubectl exec CLIENT -- cat /etc/resolv.conf`, `kubectl -n kube-system logs -l k8s-app=kube-dns` |
| 4. **policy** | Does a NetworkPolicy isolate the source (egress) or the target (ingress)? | `kubectl get networkpolicy -A`, `kubectl describe networkpolicy`, `kubectl get ns --show-labels` |
| 5. **ingress** | Does a rule match host and path, with a Secret for TLS, and can the controller reach the pods? | `kubectl describe ingress`, `curl -v -H 'Host: H' http://ADDR/PATH`, the controller's logs |

Connect by **pod IP** first (skips Service and DNS), then by **ClusterIP** (skips DNS), then by
**name**: the first one that fails names the layer that is broken.
"""),
code(r"""
from grader.notebook import explain, open_lab, pod, pod_table, pods_of, request_path, topology

B = "06-debugging/"
def app(*parts, quiet=True):
    # the base workloads plus one version of each broken or fixed part
    return open_lab([B + "base"] + [B + p for p in parts], namespace="debug-front", quiet=quiet)

lab = app("svc-v1", quiet=False)
topology(lab)
"""),
md(r"""
## Step 1: the pods

Both backend pods run and listen on 8080: connecting to a pod IP directly works.
"""),
code(r"""
display(pod_table(lab))
backends = pods_of(lab, {"app": "backend"}, "debug-back")
assert len(backends) == 2
for b in backends:
    r = lab.connect("frontend", b.ip, 8080)
    assert r.ok, r.evidence
print("frontend reaches both backend pods by IP on 8080")
"""),
md(r"""
## Step 2: the endpoints

By name the Service refuses: it has no endpoints. Its selector says `app: back-end`, the pods say
`app: backend`.
"""),
code(r"""
r = lab.connect("frontend", "backend.debug-back", 80)
assert not r.ok
explain(r)
request_path(r, lab)
"""),
code(r"""
lab = app("svc-v2")   # selector fixed; targetPort is still 80
r = lab.connect("frontend", "backend.debug-back", 80)
assert not r.ok and r.data["service"] == "debug-back/backend"
explain(r)
"""),
md(r"""
Now there are endpoints, and they refuse: the Service sends port 80 to `targetPort: 80`, and
agnhost listens on 8080. Fixed in `svc-v3` (`targetPort: 8080`, or the port's name `http`).

## Step 3: DNS

With the Service fixed, the full name works and the short name does not: `backend` is looked up in
the client's own namespace first (`debug-front.svc.cluster.local`), and there is no such Service there.
"""),
code(r"""
lab = app("svc-v3")
assert lab.connect("frontend", "backend.debug-back", 80).ok
short = lab.connect("frontend", "backend", 80)
assert not short.ok
explain(short)
"""),
md(r"""
## Step 4: NetworkPolicy

The backend team adds a default deny and "allows the frontend". The peer is a bare `podSelector`,
which means pods labelled `app: frontend` **in debug-back**: the frontend is in another namespace.
"""),
code(r"""
lab = app("svc-v3", "pol-v1")
r = lab.connect("frontend", "backend.debug-back", 80)
assert not r.ok, r.data
explain(r)
request_path(r, lab)
"""),
code(r"""
lab = app("svc-v3", "pol-v2")   # namespaceSelector AND podSelector in one peer
r = lab.connect("frontend", "backend.debug-back", 80)
assert r.ok, r.evidence
request_path(r, lab)
"""),
md(r"""
## Step 5: the Ingress

From outside, `http://api.example.test/api/users` gets a 404: the rule's `pathType: Exact` matches
`/api` only. `Prefix` matches `/api` and everything under it.
"""),
code(r"""
lab = app("svc-v3", "pol-v2", "ing-v1")
r = lab.http("ingress", "api.example.test", "/api/users")
assert not r.ok and r.data["status"] == 404, r.data
explain(r)
lab = app("svc-v3", "pol-v2", "ing-v2")
r = lab.http("ingress", "api.example.test", "/api/users")
assert r.ok, r.evidence
request_path(r)
"""),
md(r"""
A last trap: the controller is a client too. With the first policy (`pol-v1`) the Ingress route is
right and the request is still dropped, because the backend is isolated and nothing allows the
controller's address. `pol-v2` allows `ipBlock 172.18.0.0/16`, kind's Docker network, where
cloud-provider-kind's Envoy runs. The simulator models Envoy at one address on that network; which
source address a pod really sees depends on the controller (in-cluster controllers are pods, matched
by namespace and pod selectors), and kind's network may be another subnet on your machine
(`docker network inspect kind`). Check it live with agnhost's `/clientip`.
"""),
code(r"""
lab = app("svc-v3", "pol-v1", "ing-v2")
r = lab.http("ingress", "api.example.test", "/api/users")
assert not r.ok, r.data
explain(r)
"""),
md(r"""
## Your turn: exercise 6

`exercises/lesson6/README.md`: a broken app; find and fix each layer, then `grade lesson6`.

## Further learning

- **Multi-cluster.** KubeFed (Kubernetes Cluster Federation) is archived; do not start with it. The
  **Multi-Cluster Services API** (KEP-1645, `ServiceExport`/`ServiceImport`, names under
  `clusterset.local`) is the upstream standard, implemented by e.g. Submariner, Cilium Cluster Mesh
  and cloud providers' fleet products.
- **Service meshes** add mutual TLS between pods, retries, traffic splitting and L7 metrics without
  changing the apps: **Istio** (sidecar or sidecar-less "ambient" mode), **Linkerd** (small Rust
  proxies), **Cilium** service mesh (eBPF plus Envoy per node). They also answer to the Gateway API.
- **Advanced CNIs.** Cilium with kube-proxy replacement, L7 and DNS-aware policies and Hubble flow
  logs; Calico's eBPF dataplane and its ordered, global policies with explicit deny; the
  **AdminNetworkPolicy** and BaselineAdminNetworkPolicy APIs (kubernetes-sigs/network-policy-api)
  for cluster-wide rules that namespaces cannot override; IPv6 and dual-stack clusters.
- **Tools**: `policy-assistant` (truth tables and walkthroughs of policies), np-guard's netpol-analyzer,
  `kubectl debug` with ephemeral containers, and `tcpdump` in a debug pod on the node.
"""),
]
