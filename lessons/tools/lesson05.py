from nbwrite import code, md

NAME = "05-ingress-tls"

CELLS = [
md(r"""
# Lesson 5: Ingress, TLS and the Gateway API

A LoadBalancer per app wastes addresses and knows nothing about HTTP. An **Ingress** is a set of
HTTP routing rules (host, path -> Service) that an **Ingress controller** implements: a proxy that
receives the traffic, terminates TLS, and forwards to the Services' endpoints.
"""),
md(r"""
## Controllers, and the successor

An Ingress object does nothing without a controller, chosen by `spec.ingressClassName`:

| controller | notes |
|---|---|
| **Ingress NGINX** (kubernetes/ingress-nginx) | **retired**: announced November 2025, no fixes after March 2026, repository archived. Do not start with it; migrate. |
| **cloud-provider-kind** | what the course cluster runs: Envoy containers next to kind, IngressClass `cloud-provider-kind`; it also implements LoadBalancer Services and the Gateway API. It translates Ingress to Gateway semantics, so `*.foo.com` also matches deeper names there. |
| **Traefik**, **HAProxy Ingress**, **Contour** (Envoy), F5 NGINX Ingress Controller | maintained controllers, installed with Helm (Contour has an official kind guide); an in-cluster controller needs ports 80/443 mapped from the kind node with `extraPortMappings`. |

The **Gateway API** (`gateway.networking.k8s.io`) is the successor SIG Network recommends: roles are
split (a platform team owns the `GatewayClass` and `Gateway` with its listeners and certificates;
app teams attach `HTTPRoute`s), and header matching, traffic splitting, redirects and cross-namespace
references are part of the API instead of controller-specific annotations:

```yaml
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  parentRefs: [{name: course-gateway}]
  hostnames: [shop.example.test]
  rules:
    - matches: [{path: {type: PathPrefix, value: /api}}]
      backendRefs: [{name: api, port: 80}]
```

The simulator models Ingress routing and TLS; it does **not** route Gateway API objects (it keeps
them and ignores them). Try them live: `exercises/lesson5/alternatives/with-gateway-api/`.

## The rules that decide a route

- `pathType` is required. **Exact**: the whole path, case-sensitive. **Prefix**: whole `/`-separated
  segments: `/api` matches `/api`, `/api/`, `/api/v1`, not `/apiv2`.
- The **longest** matching path wins; on a tie Exact beats Prefix. Host `*.foo.com` matches one label.
- No match: `spec.defaultBackend`, else the controller's 404.
- **TLS**: `spec.tls[].hosts` + `secretName` of a `kubernetes.io/tls` Secret in the Ingress's own
  namespace. The controller picks the certificate by the name the client sends in the TLS
  handshake (**SNI**), so one address serves many hosts, each with its own certificate.
"""),
md(r"""
## The lab

Three apps (`shop`, `api`, `blog`), two Ingresses, and two TLS Secrets created right here with the
course's certificate tool (the same code as `grade tls-cert --host shop.example.test`): a
self-signed certificate whose subject alternative names (SANs) are the host.
"""),
code(r"""
import tempfile
from pathlib import Path

from grader.notebook import check_prediction, explain, open_lab, request_path, topology
from grader.tlsgen import write_tls_secret

certs = Path(tempfile.mkdtemp(prefix="lesson5-tls-"))
shop_secret = write_tls_secret(["shop.example.test"], certs / "shop", name="shop-tls")
blog_secret = write_tls_secret(["blog.example.test"], certs / "blog", name="blog-tls")
lab = open_lab(["05-ingress-tls", shop_secret, blog_secret], namespace="ingress-demo")
topology(lab)
"""),
md(r"""
## Predict: which Service answers?

Write the Service name you expect (`"shop"`, `"api"`, `"blog"`) or `"404"` when no rule matches.
"""),
code(r"""
prediction = {
    ("shop.example.test", "/"): None,
    ("shop.example.test", "/api/v1/users"): None,
    ("shop.example.test", "/apiv2"): None,
    ("shop.example.test", "/healthz"): None,
    ("shop.example.test", "/healthz/ready"): None,
    ("SHOP.example.test", "/api"): None,
    ("blog.example.test", "/api"): None,
    ("other.example.test", "/"): None,
}
"""),
code(r"""
def answered_by(host, path):
    r = lab.http("ingress", host, path)
    return r.data["service"].split("/")[1] if r.ok else str(r.data["status"])

actual = {case: answered_by(*case) for case in prediction}
assert actual == {
    ("shop.example.test", "/"): "shop", ("shop.example.test", "/api/v1/users"): "api",
    ("shop.example.test", "/apiv2"): "shop", ("shop.example.test", "/healthz"): "api",
    ("shop.example.test", "/healthz/ready"): "shop", ("SHOP.example.test", "/api"): "api",
    ("blog.example.test", "/api"): "blog", ("other.example.test", "/"): "404",
}, actual
check_prediction(prediction, actual)
"""),
md(r"""
Host names are case-insensitive; paths are not. `/apiv2` is not under the segment `/api`, so the
longest match left is `/` (shop). `/healthz` is Exact, so `/healthz/ready` also falls back to `/`.

## TLS and SNI

One Ingress address, two hosts, two certificates: the handshake for each host gets the certificate
whose SANs name it. A host without a `tls` entry gets no certificate of its own.
"""),
code(r"""
shop = lab.http("ingress", "shop.example.test", "/api", tls=True)
blog = lab.http("ingress", "blog.example.test", "/", tls=True)
assert shop.ok and shop.data["cert_sans"] == ["shop.example.test"], shop.data
assert blog.ok and blog.data["cert_sans"] == ["blog.example.test"], blog.data
print("shop.example.test ->", shop.data["tls_secret"], shop.data["cert_sans"])
print("blog.example.test ->", blog.data["tls_secret"], blog.data["cert_sans"])
request_path(shop)
"""),
md(r"""
Live, `curl -v --resolve shop.example.test:443:<ingress IP> -k https://shop.example.test/api` shows
the handshake (`subject: CN=shop.example.test`); `-k` because the certificate is self-signed.

The classic TLS mistake: the Secret is missing or lives in another namespace (an Ingress can only use
Secrets of its own namespace). Without `blog-tls`:
"""),
code(r"""
no_secret = open_lab(["05-ingress-tls", shop_secret], namespace="ingress-demo", quiet=True)
r = no_secret.http("ingress", "blog.example.test", "/", tls=True)
assert not r.ok and not r.data["cert_sans"], r.data
explain(r)
"""),
md(r"""
What a live controller does then differs: many serve a built-in default ("fake") certificate and
the client rejects it; the simulator reports the failed handshake. Either way: `kubectl get secret
blog-tls -n ingress-demo` and `kubectl describe ingress blog -n ingress-demo`.

## Your turn: exercise 5

`exercises/lesson5/README.md`: host and path routing, a default backend, TLS for your host.

```sh
grade tls-cert --host myapp.example.com --out work/lesson5/
grade lesson5
```
"""),
]
