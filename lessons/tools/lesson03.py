from nbwrite import code, md

NAME = "03-dns"

CELLS = [
md(r"""
# Lesson 3: DNS

Pods find Services by name. You will see which records cluster DNS serves, how a pod's search list
and `ndots:5` turn a short name into many queries, the cross-namespace mistake, and what CoreDNS is.
"""),
code(r"""
from grader.model import dns
from grader.notebook import check_prediction, explain, open_lab, pod, pods_of, request_path, topology

lab = open_lab("03-dns", namespace="dns-demo")
topology(lab)
"""),
md(r"""
## CoreDNS and the pod's resolv.conf

Cluster DNS is **CoreDNS**: a Deployment in `kube-system` behind the Service `kube-dns`
(`10.96.0.10` on kind). Its configuration, the `coredns` ConfigMap (`Corefile`), enables the
`kubernetes` plugin for `cluster.local` (Service and pod records from the API), `forward . /etc/resolv.conf`
for every other name (the node's upstream resolver), and `cache`. Every pod with the default
`dnsPolicy: ClusterFirst` gets this `/etc/resolv.conf`:

```
search <namespace>.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.96.0.10
options ndots:5
```

Commands: `kubectl exec -n dns-demo client -- cat /etc/resolv.conf`,
`kubectl -n kube-system get configmap coredns -o yaml`, `kubectl -n kube-system logs -l k8s-app=kube-dns`.
"""),
code(r"""
r = lab.resolve("client", "kube-dns.kube-system")
assert r.ok and r.data["answers"] == ["10.96.0.10"], r.data
print("kube-dns.kube-system ->", r.data["answers"])
"""),
md(r"""
## Record types

| name | type | answer |
|---|---|---|
| `<svc>.<ns>.svc.cluster.local` (ClusterIP Service) | A | the ClusterIP |
| `<svc>.<ns>.svc.cluster.local` (headless) | A | one record per *ready* endpoint; NXDOMAIN when none is ready |
| `<pod-hostname>.<svc>.<ns>.svc.cluster.local` | A | that pod (StatefulSet pods, or `hostname` + `subdomain`) |
| `_<port-name>._<proto>.<svc>.<ns>.svc.cluster.local` | SRV | port and target name, for named ports |
| `<svc>.<ns>.svc.cluster.local` (ExternalName) | CNAME | the external name |
| reverse of a ClusterIP | PTR | the Service's name |

Names are case-insensitive.
"""),
code(r"""
web = lab.resolve("client", "web")
assert web.ok and web.data["fqdn"] == "web.dns-demo.svc.cluster.local" and web.data["type"] == "A", web.data
db = lab.resolve("client", "db")
assert sorted(db.data["answers"]) == sorted(p.ip for p in pods_of(lab, {"app": "db"})), db.data
db0 = lab.resolve("client", "db-0.db")
assert db0.ok and db0.data["answers"] == [pod(lab, "db-0").ip], db0.data
print("web     ->", web.data["answers"], "(ClusterIP)")
print("db      ->", db.data["answers"], "(headless: every ready pod)")
print("db-0.db ->", db0.data["answers"], "(one StatefulSet pod)")
"""),
md(r"""
`lab.resolve` asks for A records. SRV and PTR answers below come from the **simulator's model of
CoreDNS** on these manifests, even on a live cluster; to see the real ones run
`kubectl exec -n dns-demo client -- nslookup -type=SRV _http._tcp.web.dns-demo.svc.cluster.local`.
"""),
code(r"""
srv = dns.resolve(lab.world, "dns-demo", "_http._tcp.web", "SRV")
assert srv.answers == ["0 100 80 web.dns-demo.svc.cluster.local"], srv.answers
ptr = dns.resolve(lab.world, "dns-demo", srv_ip := dns.resolve(lab.world, "dns-demo", "web").answers[0], "PTR")
assert ptr.answers == ["web.dns-demo.svc.cluster.local"], ptr.answers
print("SRV _http._tcp.web ->", srv.answers)
print("PTR", srv_ip, "->", ptr.answers)
"""),
md(r"""
## The search list and ndots:5

A name with **fewer than 5 dots** is first tried with each search suffix, then as written. That is
why `web` works, and also why `api` finds nothing here: the Service `api` lives in namespace
`dns-other`, and the search list only covers the pod's own namespace.
"""),
code(r"""
api = lab.resolve("client", "api")
assert not api.ok, api.data
explain(api)
request_path(api)
"""),
code(r"""
for name in ["api.dns-other", "api.dns-other.svc", "api.dns-other.svc.cluster.local."]:
    r = lab.resolve("client", name)
    assert r.ok and r.data["fqdn"] == "api.dns-other.svc.cluster.local", (name, r.data)
    print(f"{name:36} -> {r.data['answers']}")
"""),
md(r"""
### The pitfall: every outside name costs extra queries

`example.com` has one dot, so a pod first asks for `example.com.dns-demo.svc.cluster.local`,
`example.com.svc.cluster.local` and `example.com.cluster.local` (each NXDOMAIN) before the real name:
four queries, and twice that when the resolver asks for A and AAAA. Under load that multiplies
CoreDNS traffic and latency. Fixes: write the name with a trailing dot (`example.com.`), or lower
`ndots` for that pod with `dnsConfig: {options: [{name: ndots, value: "2"}]}`. A name with 5 dots
or more is tried as written first. (The course's kind config sets `dnsSearch: []` so the host's
own search domains do not add even more.)

The names tried are a pure function of the name and the namespace, the same on every cluster:
"""),
code(r"""
tries = dns.query_names("example.com", "dns-demo")
assert tries == ["example.com.dns-demo.svc.cluster.local", "example.com.svc.cluster.local", "example.com.cluster.local", "example.com"]
assert dns.query_names("example.com.", "dns-demo") == ["example.com"]
assert dns.query_names("a.b.c.d.e.f", "dns-demo")[0] == "a.b.c.d.e.f"
for name in tries:
    print(name)
"""),
md(r"""
Whether `example.com` itself resolves depends on the internet behind the node: the simulator does not
resolve outside names (it answers NXDOMAIN and says why), a live cluster forwards them upstream.

## Predict

From `client` in namespace `dns-demo`: which names resolve?
"""),
code(r"""
prediction = {
    "web": None,
    "WEB": None,
    "web.dns-demo.svc": None,
    "db-1.db": None,
    "api": None,
    "api.dns-other": None,
    "db-2.db": None,   # the StatefulSet has 2 replicas
}
"""),
code(r"""
actual = {name: lab.resolve("client", name).ok for name in prediction}
assert actual == {"web": True, "WEB": True, "web.dns-demo.svc": True, "db-1.db": True, "api": False,
                  "api.dns-other": True, "db-2.db": False}, actual
check_prediction(prediction, actual)
"""),
md(r"""
## Your turn: exercise 3

`exercises/lesson3/README.md`: make names resolve across namespaces, give pods stable names with a
headless Service, and use the right names from a client.

```sh
grade lesson3
grade hint lesson3 TASK
```
"""),
]
