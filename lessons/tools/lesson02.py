from nbwrite import code, md

NAME = "02-services"

CELLS = [
md(r"""
# Lesson 2: Services

Pods come and go, and every new pod gets a new IP. A **Service** gives a set of pods, chosen by a
label selector, one stable name and address. You will see the five kinds of Service, what
kube-proxy does with each, and the two classic ways a Service silently stops working.
"""),
code(r"""
from grader.notebook import check_prediction, explain, open_lab, pod, pods_of, request_path, show_table, topology

lab = open_lab("02-services", namespace="services-demo")
topology(lab)
"""),
md(r"""
## Service types and kube-proxy, in one picture

```mermaid
flowchart LR
  client["client pod"] -- "web:80 (DNS: A 10.96.x.y)" --> vip(["ClusterIP 10.96.x.y:80<br/>virtual: no process listens"])
  outside["outside the cluster"] -- "any node IP:30080" --> np(["NodePort 30080<br/>on every node"])
  outside -- "external IP:80" --> lb(["LoadBalancer<br/>external IP from cloud-provider-kind"])
  lb --> np
  np --> vip
  vip -- "kube-proxy rules: DNAT to one endpoint" --> ep1["web pod A :8080"]
  vip --> ep2["web pod B :8080"]
  client -- "web-headless (DNS: A per pod IP)" --> ep1
  client -- "docs (DNS: CNAME kubernetes.io)" --> ext["a name outside the cluster"]
```

- **ClusterIP** (default): a virtual IP from the service CIDR (`10.96.0.0/16` on kind). No process
  listens on it. **kube-proxy**, on every node, watches Services and EndpointSlices and programs the
  node's packet filter (iptables by default on kind; nftables is GA since Kubernetes 1.33; upstream
  steers users from IPVS to nftables) so that a packet to `ClusterIP:port` is rewritten (DNAT) to
  one ready endpoint `podIP:targetPort`, picked at random per connection.
- **NodePort**: a ClusterIP plus a port (30000-32767) on *every* node; traffic to any node's port is
  forwarded to an endpoint, and with `externalTrafficPolicy: Cluster` (the default) its source is
  rewritten to the node's address (SNAT), so the pod does not see the client's IP. (`Local` keeps
  the client IP but only nodes with a local endpoint answer; the simulator models `Cluster` only.)
- **LoadBalancer**: a NodePort plus an external IP provided by a cloud controller. kind has no cloud:
  the course runs **cloud-provider-kind**, which gives the Service an IP on the Docker network.
- **Headless** (`clusterIP: None`): no virtual IP and no kube-proxy rules; DNS answers with the
  ready pods' IPs directly. StatefulSets use it for stable per-pod names.
- **ExternalName**: no proxying at all; DNS answers a CNAME to another name.

The **endpoints** of a Service are the *ready* pods its selector matches, with `targetPort`
resolved on each pod (a number, or the *name* of a container port).
"""),
md(r"""
## ClusterIP: a stable name for a changing set of pods
"""),
code(r"""
web_pods = [p.key for p in pods_of(lab, {"app": "web"})]
r = lab.connect("client", "web", 80)
assert r.ok, r.evidence
assert r.data["endpoint"] in web_pods, (r.data, web_pods)
print("answered by", r.data["endpoint"], "- one of", web_pods)
request_path(r, lab)
"""),
md(r"""
The path shows each step: DNS turns `web` into the ClusterIP, kube-proxy's rule picks an endpoint
and rewrites port 80 to `targetPort: http` (the container port named `http`, 8080), then policy and
the listening process decide. Inside the cluster the pod sees the client's real IP:
"""),
code(r"""
seen = lab.client_ip("client", "web", 80)
assert seen.ok and seen.data["client_ip"] == pod(lab, "client").ip, seen.data
print("server saw", seen.data["client_ip"])
"""),
md(r"""
## NodePort and LoadBalancer: from outside

From your machine, `localhost:30080` reaches the NodePort (the course's kind config maps that one
port). The LoadBalancer needs cloud-provider-kind running next to the cluster on a live setup
(`grade cluster doctor` checks it); the simulator gives the Service an address as it would.
"""),
code(r"""
r = lab.http("nodeport", "localhost", "/hostname", port=30080)
assert r.ok, r.evidence
print("NodePort 30080 ->", r.data["service"], "->", r.data["endpoint"])
r = lab.http("loadbalancer:services-demo/web-lb", "web", "/hostname")
assert r.ok, r.evidence
print("LoadBalancer ->", r.data["service"], "->", r.data["endpoint"])
"""),
md(r"""
## Headless and ExternalName: DNS does the work
"""),
code(r"""
r = lab.resolve("client", "web-headless")
assert r.ok and sorted(r.data["answers"]) == sorted(p.ip for p in pods_of(lab, {"app": "web"})), r.data
print("web-headless ->", r.data["answers"], "(the pod IPs themselves)")
r = lab.resolve("client", "docs")
assert r.data["type"] == "CNAME" and r.data["cname"] == "kubernetes.io", r.data
print("docs -> CNAME", r.data["cname"])
"""),
md(r"""
What happens *after* the CNAME (resolving `kubernetes.io` and connecting to it) depends on the
internet outside the cluster: the simulator does not model it, and says so in its trace.

## Predict

For each connection from `client`, will it connect (`True`) or not (`False`)? Think about which
port each Service exposes, where each one sends traffic, and what the pods listen on (8080).
"""),
code(r"""
prediction = {
    "web:80": None,           # ClusterIP, port 80 -> targetPort http (8080)
    "web:8080": None,         # the same Service, on the pods' port
    "web-headless:8080": None,  # headless: DNS gives pod IPs
    "web-headless:80": None,
    "web-typo:80": None,      # selector app: wbe
}
"""),
code(r"""
results = {case: lab.connect("client", case.split(":")[0], int(case.split(":")[1])) for case in prediction}
actual = {case: r.ok for case, r in results.items()}
assert actual == {"web:80": True, "web:8080": False, "web-headless:8080": True, "web-headless:80": False, "web-typo:80": False}, actual
check_prediction(prediction, actual)
"""),
md(r"""
- `web:8080`: a ClusterIP only answers on the ports the Service declares (80). Nothing translates 8080.
- `web-headless:8080` works because the name resolves to pod IPs: the client talks to the pods directly.
- `web-headless:80`: no kube-proxy rewrites 80 to 8080 for a headless Service, so the pod refuses.

## The two silent failures

A Service whose **selector matches no pod** has a ClusterIP and a DNS name, and no endpoints: the
connection is refused. `kubectl get endpointslices -l kubernetes.io/service-name=web-typo` shows it
empty; compare the selector with `kubectl get pods --show-labels`.
"""),
code(r"""
r = results["web-typo:80"]
assert not r.ok
explain(r)
request_path(r, lab)
"""),
md(r"""
The other one, a `targetPort` that does not match the port the process listens on, gives endpoints
that refuse: you will debug it in lesson 6.

## Your turn: exercise 2

`exercises/lesson2/README.md`: write ClusterIP, NodePort, LoadBalancer and named-port Services for
an app of two pods. Note: the exercise's NodePort Service uses nodePort 30080 like this notebook;
on a live cluster a nodePort can be used once, so delete this notebook's namespace first
(`kubectl delete namespace services-demo`).

```sh
grade lesson2
grade hint lesson2 test_clusterip_service
```
"""),
]
