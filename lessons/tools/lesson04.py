from nbwrite import code, md

NAME = "04-network-policies"

CELLS = [
md(r"""
# Lesson 4: NetworkPolicy

By default every pod accepts traffic from everywhere. A **NetworkPolicy** selects pods and lists what
may come in (ingress) or go out (egress). The rules are few and exact; most mistakes come from
misreading one of them. You will apply policies step by step and watch the truth table change.

**The semantics** (networking.k8s.io/v1):

1. **Isolation is per direction.** A pod is isolated for ingress once *any* policy with
   `policyTypes: [Ingress]` selects it, and for egress likewise. Until then, that direction is open.
2. **Policies are a union.** An isolated pod accepts what *at least one* selecting policy allows.
   Policies only add allowances; their order does not matter; there is no "deny" rule.
3. **Peers: AND inside one item, OR across items.** `namespaceSelector` and `podSelector` in *one*
   `from` item must both match; two items (two dashes) allow either.
   A `podSelector` alone means pods in the *policy's* namespace.
4. **Egress includes DNS.** Isolating a pod for egress also blocks its queries to CoreDNS (UDP/TCP 53).
5. Replies to an allowed connection are always allowed; a pod can always reach itself.
6. Only the CNI enforces policies (lesson 1): on Flannel they are accepted and do nothing.
"""),
code(r"""
from grader.notebook import check_prediction, explain, open_lab, pod, request_path, show_table, topology

B = "04-network-policies/"
SOURCES = ["web", "api", "db", "impostor", "netpol-monitoring/prometheus", "netpol-monitoring/debug"]
TARGETS = ["web", "api", "db"]

def table(steps, expected):
    # open the lab with the base pods plus the policy folders of `steps`, and probe TCP 8080
    lab = open_lab([B + "base"] + [B + s for s in steps], namespace="netpol-demo", quiet=True)
    return lab, lab.reachability(SOURCES, TARGETS, 8080, expected)

lab = open_lab(B + "base", namespace="netpol-demo")
topology(lab)
"""),
md(r"""
## Step 0: no policy, everything is open
"""),
code(r"""
lab0, t0 = table([], True)
assert not t0.differences(), t0.render()
show_table(t0, "no NetworkPolicy: all allowed")
"""),
md(r"""
## Step 1: default deny ingress

`podSelector: {}` selects every pod of the namespace; no `ingress` rule allows anything. Every pod of
`netpol-demo` is now isolated for ingress. A pod still reaches itself.
"""),
code(r"""
def expect(allowed_pairs):
    return {(s, t): (s, t) in allowed_pairs or s == t for s in SOURCES for t in TARGETS}

lab1, t1 = table(["deny-ingress"], expect(set()))
assert not t1.differences(), t1.render()
show_table(t1, "default-deny-ingress")
"""),
md(r"""
## Predict step 2

Two more policies: `api-from-web` (api accepts pods `app: web` of its namespace, TCP 8080) and
`db-from-api` (db accepts `app: api`, TCP 8080). The deny-all stays. Which cells turn allowed?
Fill in `True` where you expect a connection (the diagonal, a pod to itself, is always allowed).
"""),
code(r"""
prediction = {
    ("web", "api"): None,
    ("web", "db"): None,
    ("api", "db"): None,
    ("api", "web"): None,
    ("netpol-monitoring/prometheus", "api"): None,
}
"""),
code(r"""
lab2, t2 = table(["deny-ingress", "allow-web-to-api"], expect({("web", "api"), ("api", "db")}))
assert not t2.differences(), t2.render()
display(check_prediction(prediction, t2))
show_table(t2, "deny-all + api-from-web + db-from-api: the union")
"""),
md(r"""
`web -> db` stays blocked: policies are not transitive, and `db-from-api` names api only. Each
selecting policy adds to what the pod accepts; none removes what another allows.

## Step 3: AND vs OR

The monitoring team's `prometheus` (label `role: monitor`, namespace `netpol-monitoring`) must reach
`api`. Two versions of one policy differ by a single dash:

```yaml
# AND: one peer                                   # OR: two peers
- from:                                          - from:
    - namespaceSelector: {matchLabels: ...}          - namespaceSelector: {matchLabels: ...}
      podSelector: {matchLabels: {role: monitor}}    - podSelector: {matchLabels: {role: monitor}}
```

The OR version lets in *every* pod of `netpol-monitoring` (also `debug`) and *every* pod labelled
`role: monitor` in `netpol-demo` itself, such as `impostor`.
"""),
code(r"""
base = {("web", "api"), ("api", "db")}
lab_and, t_and = table(["deny-ingress", "allow-web-to-api", "monitoring-and"], expect(base | {("netpol-monitoring/prometheus", "api")}))
assert not t_and.differences(), t_and.render()
lab_or, t_or = table(["deny-ingress", "allow-web-to-api", "monitoring-or"], expect(base | {("netpol-monitoring/prometheus", "api")}))
extra = {("netpol-demo/impostor", "netpol-demo/api"), ("netpol-monitoring/debug", "netpol-demo/api")}
assert set(t_or.differences()) == extra, t_or.render()
display(show_table(t_and, "AND: only prometheus"))
show_table(t_or, "OR: expected as AND; thick borders are the extra pods the OR version lets in")
"""),
code(r"""
r = lab_or.connect("impostor", "api", 8080)
assert r.ok
explain(r)
"""),
md(r"""
## Step 4: egress, and the DNS surprise

`web-deny-egress` isolates `web` for egress with no rule. Now `web` cannot reach `api`, by IP or by
name, and the name fails first: the DNS query to CoreDNS is egress traffic too.
"""),
code(r"""
lab4 = open_lab([B + "base", B + "deny-egress"], namespace="netpol-demo", quiet=True)
dns_lookup = lab4.resolve("web", "api")
assert not dns_lookup.ok, dns_lookup.data
r = lab4.connect("web", "api", 8080)
assert not r.ok
explain(r)
request_path(r, lab4)
"""),
md(r"""
The fix allows DNS explicitly: UDP and TCP 53 to the CoreDNS pods (`k8s-app: kube-dns` in
`kube-system`, selected by the automatic label `kubernetes.io/metadata.name`), plus the one
destination web needs. Egress to `db` stays closed.
"""),
code(r"""
lab5 = open_lab([B + "base", B + "deny-egress", B + "allow-dns"], namespace="netpol-demo", quiet=True)
assert lab5.resolve("web", "api").ok
r = lab5.connect("web", "api", 8080)
assert r.ok, r.evidence
assert not lab5.connect("web", pod(lab5, "db").ip, 8080).ok, "egress to db must stay closed"
request_path(r, lab5)
"""),
md(r"""
## The same policies on Flannel

A CNI without NetworkPolicy support accepts every object above and enforces none. Simulated (the
course cluster has no Flannel):
"""),
code(r"""
flannel = open_lab([B + "base", B + "deny-ingress", B + "allow-web-to-api"], namespace="netpol-demo", enforce_policy=False)
tf = flannel.reachability(SOURCES, TARGETS, 8080, expect({("web", "api"), ("api", "db")}))
assert all(tf.observed.values())
show_table(tf, "Flannel: expected (enforced) vs observed (ignored)")
"""),
md(r"""
Useful commands on a live cluster: `kubectl get networkpolicy -n netpol-demo`,
`kubectl describe networkpolicy api-from-monitoring -n netpol-demo` (it prints the peers, so AND vs
OR is visible), `kubectl get pods -n netpol-demo --show-labels`, `kubectl get ns --show-labels`.

## Your turn: exercise 4

`exercises/lesson4/README.md`: allow specific traffic, default-deny, egress that keeps DNS working,
and a namespace-based allowance.

```sh
grade lesson4
grade hint lesson4 test_default_deny_egress_keeps_dns
```
"""),
]
