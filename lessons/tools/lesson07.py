from nbwrite import code, md

NAME = "07-gateway-api"

CELLS = [
md(r"""
# Lesson 7: the Gateway API

Ingress-NGINX is retired (no fixes after March 2026) and SIG Network points new work at the
**Gateway API** (`gateway.networking.k8s.io`, v1 since 2023). It is what Ingress could not say
without controller-specific annotations: header and query matching, traffic splitting, redirects
and rewrites, header changes, references across namespaces with the other team's consent, and a
**status** on every route that says whether it is attached and why not.

## Three roles, three kinds

| kind | who writes it | what it says |
|---|---|---|
| `GatewayClass` | the infrastructure provider (here cloud-provider-kind creates `cloud-provider-kind`) | which controller implements Gateways of this class |
| `Gateway` | the cluster operator / platform team | addresses and **listeners**: port, protocol, hostname, TLS certificates, which namespaces may attach routes (`allowedRoutes`) |
| `HTTPRoute` | each app team, in its own namespace | which Gateway/listener it attaches to (`parentRefs`), the hosts it serves (`hostnames`), rules: matches -> filters -> weighted `backendRefs` |
| `ReferenceGrant` | the team that owns a Service or Secret | "routes of namespace X may point at my Service": consent for a cross-namespace reference |
"""),
md(r"""
## The lab

A platform Gateway `demo-gateway` (HTTP for `*.example.test`, HTTPS for `shop.example.test` with a
certificate made right here), the shop team's routes in `gateway-demo`, and a payments team in
`gateway-demo-payments`.
"""),
code(r"""
import tempfile
from pathlib import Path

from grader.model.gateway import analyze
from grader.model.gateway.split import acceptance_band, pass_probability
from grader.notebook import check_prediction, explain, open_lab, request_path, topology
from grader.tlsgen import write_tls_secret

certs = Path(tempfile.mkdtemp(prefix="lesson7-tls-"))
shop_tls = write_tls_secret(["shop.example.test"], certs, name="shop-tls")
lab = open_lab(["07-gateway-api", shop_tls], namespace="gateway-demo")
GW = "gateway:gateway-demo/demo-gateway"
topology(lab)
"""),
md(r"""
## Attaching a route, and reading why it did not attach

A route is only served once a listener **accepts** it. A `parentRef` selects listeners by
`sectionName` (the listener's name) and `port` when given; the listener must allow the route's
namespace (`allowedRoutes.namespaces.from`: `Same` by default, `All`, or `Selector`) and kind; and the
route's `hostnames` must **intersect** the listener's `hostname` (`*.example.test` covers
`shop.example.test` and `a.b.example.test`, any number of labels, but not `example.test`).

The controller writes the verdict into the route's `status.parents[].conditions`. Predict: which of
the five routes are attached (`True`), and for those that are not, with which reason
(`NoMatchingParent`, `NotAllowedByListeners`, `NoMatchingListenerHostname`)?
"""),
code(r"""
prediction = {
    "gateway-demo/shop": None,
    "gateway-demo/canary": None,
    "gateway-demo/wrong-listener": None,
    "gateway-demo/wrong-host": None,
    "gateway-demo-payments/other-team": None,
}
"""),
code(r"""
state = analyze(lab.world)  # the status a controller writes, from the objects applied

def accepted(route):
    cond = next(c for c in state.routes[route].parents[0].conditions if c.type == "Accepted")
    return "True" if cond.status == "True" else cond.reason

actual = {route: accepted(route) for route in prediction}
assert actual == {
    "gateway-demo/shop": "True", "gateway-demo/canary": "True",
    "gateway-demo/wrong-listener": "NoMatchingParent", "gateway-demo/wrong-host": "NoMatchingListenerHostname",
    "gateway-demo-payments/other-team": "NotAllowedByListeners",
}, actual
for route in ("gateway-demo/wrong-listener", "gateway-demo/wrong-host", "gateway-demo-payments/other-team"):
    print(f"HTTPRoute {route}:")
    for line in state.routes[route].status_lines():
        print("  " + line)
check_prediction(prediction, actual)
"""),
md(r"""
All three were accepted by the API server (`kubectl apply` said `created`), yet they serve nothing.
On a cluster the same lines are in `kubectl get httproute wrong-host -n gateway-demo -o yaml`; the
listener side is in `kubectl get gateway demo-gateway -n gateway-demo -o yaml`
(`status.listeners[].attachedRoutes`).

## Which rule wins: precedence

Every rule of every route attached under the most specific matching hostname competes. The spec's
order: an **Exact** path, then the **longest PathPrefix**, then a **method** match, then **more header
matches**, then more query matches; then the oldest route, then `namespace/name`; within one route
the first rule. (PathPrefix matches whole path elements: `/docs` covers `/docs/guide`, not `/docsx`.)

Predict which Service answers (`"web-v1"`, `"web-v2"`, `"docs"`, `"api"`) over HTTPS to `shop.example.test`:
"""),
code(r"""
cases = {
    ("GET", "/", ""): None,
    ("GET", "/docs/guide", ""): None,
    ("GET", "/docsx", ""): None,
    ("GET", "/", "X-Canary: always"): None,
    ("GET", "/docs/guide", "X-Canary: always"): None,
    ("POST", "/api/orders", ""): None,
    ("GET", "/api/orders", ""): None,
}
"""),
code(r"""
def answered_by(method, path, header):
    headers = dict([header.split(": ")]) if header else {}
    r = lab.http(GW, "shop.example.test", path, tls=True, method=method, headers=headers)
    return r.data["service"].split("/")[1] if r.ok else str(r.data["status"])

actual = {case: answered_by(*case) for case in cases}
assert actual == {
    ("GET", "/", ""): "web-v1", ("GET", "/docs/guide", ""): "docs", ("GET", "/docsx", ""): "web-v1",
    ("GET", "/", "X-Canary: always"): "web-v2", ("GET", "/docs/guide", "X-Canary: always"): "docs",
    ("POST", "/api/orders", ""): "api", ("GET", "/api/orders", ""): "web-v1",
}, actual
check_prediction(cases, actual)
"""),
md(r"""
The header rule only wins where the paths tie: `/docs` is a longer prefix than the header rule's
default `/`, so `/docs/guide` stays with docs even with `X-Canary: always`. The method match makes
`POST /api` win, and a `GET` there falls back to `/`.

## Filters: redirect, rewrite, headers

- **RequestRedirect** answers the client itself (default **302**; `statusCode: 301` for a permanent
  move). With `scheme: https` and no port, the Location uses 443 and leaves the port out.
- **URLRewrite** changes the path (`ReplaceFullPath`, `ReplacePrefixMatch`) or Host the backend sees.
- **RequestHeaderModifier** / **ResponseHeaderModifier**: `set`, `add` (appends with a comma), `remove`.
"""),
code(r"""
redirect = lab.http(GW, "shop.example.test", "/cart?item=42")
rewrite = lab.http(GW, "shop.example.test", "/docs/latest", tls=True)
post = lab.http(GW, "shop.example.test", "/api/orders", tls=True, method="POST")
assert redirect.data["status"] == 301 and redirect.data["location"] == "https://shop.example.test/cart?item=42", redirect.data
print("http://shop.example.test/cart?item=42 ->", redirect.data["status"], redirect.data["location"])
if lab.backend.name == "simulator":  # what the backend saw and the response's headers are the model's; live, curl -v shows them
    assert rewrite.data["backend_path"] == "/docs/v7", rewrite.data
    assert post.data["response_headers"].get("X-Served-By") == "api", post.data
    print("https://shop.example.test/docs/latest -> docs sees path", rewrite.data["backend_path"])
    print("POST /api/orders -> response header X-Served-By:", post.data["response_headers"]["X-Served-By"])
request_path(redirect)
"""),
md(r"""
The redirect route is attached only to the `http` listener (`sectionName: http`) and the app route
only to `https`: a route without `sectionName` attaches to every listener whose hostname it
intersects, and would then serve plain HTTP too.

**On the course cluster:** cloud-provider-kind v0.11.1 claims only the Gateway API's core features
(plus ReferenceGrant, query matching and the extra redirect codes). Scheme redirects, URL rewrites,
method matching and response header changes are *extended* features it does not claim; the source
we read translates a redirect's hostname and status code only. The simulator follows the
specification; if a live cell disagrees here, that is the controller, and the Traefik profile
claims more of the extended features.

## Weighted backends: a canary

`www.example.test` sends `weight: 95` to web-v1 and `weight: 5` to web-v2: each backend gets
weight / (sum of weights) of the requests. The proxy picks at random per request, so counting
answers is a statistics question: how many requests tell a correct 95/5 from a wrong 50/50, and how
often does a correct split look wrong by chance?
"""),
code(r"""
r = lab.http(GW, "www.example.test", "/", samples=400)
shares = r.data["shares"]
print("shares of the requests:", {k.split("/")[1]: round(v, 3) for k, v in shares.items()},
      "(exact, from the model)" if r.data.get("samples") is None else f"(counted over {r.data['samples']} requests)")
n = 400
lo, hi = acceptance_band(n, 0.05)
print(f"out of {n} requests a true 5% share gets {lo}..{hi} answers except with probability < 1e-6;")
print(f"a 50% share lands there with probability {pass_probability(n, 0.5, (lo, hi)):.1e}, and a canary that never answers gets 0 < {lo}")
if r.data.get("samples") is None:
    assert shares == {"gateway-demo/web-v1": 0.95, "gateway-demo/web-v2": 0.05}, shares
else:
    assert lo <= r.data["counts"].get("gateway-demo/web-v2", 0) <= hi, r.data
"""),
md(r"""
## Across namespaces: ReferenceGrant

The shop route sends `/pay` to the Service `payments` of `gateway-demo-payments`. Without that
team's consent the reference is refused: `ResolvedRefs: False (RefNotPermitted)`, and requests that
would go there get **500** (the rest of the route keeps working). The consent is a ReferenceGrant
**in the namespace referred to**:
"""),
code(r"""
before = lab.http(GW, "shop.example.test", "/pay", tls=True)
assert before.data["status"] == 500, before.data
print("without a ReferenceGrant:", before.data["status"])
print("  " + [c.line() for c in state.routes["gateway-demo/shop"].parents[0].conditions if c.type == "ResolvedRefs"][0])

granted = open_lab(["07-gateway-api", "07-gateway-api-grant", shop_tls], namespace="gateway-demo", quiet=True)
after = granted.http(GW, "shop.example.test", "/pay", tls=True)
assert after.ok and after.data["service"] == "gateway-demo-payments/payments", after.data
print("with the ReferenceGrant:", after.data["service"])
"""),
md(r"""
A route attaching to a Gateway of another namespace is a different question: there the Gateway's
listener decides (`allowedRoutes`), which is why `other-team` above is `NotAllowedByListeners`.

## TLS at the listener

TLS ends at the Gateway: the HTTPS listener names the certificate Secret (`tls.certificateRefs`), the
listener's `hostname` is matched against the SNI, and the routes behind it see plain HTTP. A
certificate Secret in another namespace needs a ReferenceGrant too (`from` Gateway, `to` Secret).
"""),
code(r"""
s = lab.http(GW, "shop.example.test", "/", tls=True)
assert s.ok and s.data["cert_sans"] == ["shop.example.test"], s.data
print("https://shop.example.test/ ->", s.data["service"], "certificate SANs", s.data["cert_sans"])
request_path(s)
"""),
md(r"""
## From Ingress to Gateway (the ingress2gateway view)

| Ingress | Gateway API |
|---|---|
| `ingressClassName` | Gateway `gatewayClassName` |
| the controller's address | the Gateway's `status.addresses` |
| `spec.tls[].hosts` + `secretName` | an HTTPS listener: `hostname` + `tls.certificateRefs` |
| `rules[].host` | HTTPRoute `hostnames` (intersected with the listener's `hostname`) |
| `paths[]` with `pathType: Prefix` / `Exact` | `matches[].path` with `type: PathPrefix` / `Exact` |
| `backend.service.{name, port.number}` | `backendRefs[].{name, port}` (the Service's port) |
| `defaultBackend` | a route without `hostnames` on a listener without `hostname`, rule without matches |
| annotations for canary, redirect, rewrite, headers | `weight`, `RequestRedirect`, `URLRewrite`, header modifier filters |
| one object for everything, one owner | Gateway (platform) and HTTPRoutes (app teams), consent by ReferenceGrant |

`ingress2gateway` (kubernetes-sigs) prints this translation for existing Ingresses. Lesson 5's
Ingress for `myapp.example.com` becomes a Gateway with an HTTP and an HTTPS listener and one
HTTPRoute with three rules; its `defaultBackend` becomes a catch-all route.

## Your turn: exercise 7

`exercises/lesson7/README.md`: a host+path route, a header route to a v2, a 90/10 canary, an
http→https redirect with TLS at the listener, a backend in another team's namespace, and a broken
route to repair from its status.

```sh
grade tls-cert --host secure.example.com --out work/lesson7/
grade lesson7
grade sim route work/lesson7 exercises/lesson7/fixtures --namespace lesson7 --host blog.example.com
```
"""),
]
