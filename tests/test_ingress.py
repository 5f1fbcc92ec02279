"""Ingress routing: hosts, paths, precedence, default backends, backends, TLS Secrets, IngressClass.

Scenarios follow kubernetes-sigs/ingress-controller-conformance features/*.feature and PLATFORM.md.
"""

from __future__ import annotations

from grader.model.ingress import (
    ANY_INGRESS_CLASS,
    course_ingress_class,
    host_match,
    ingress_class_of,
    path_match,
    route,
)
from grader.model.objects import ContainerPort, Pod, Raw, Service, ServicePort, World

NS = "lesson5"


def backend(service, port=8080):
    key = "number" if isinstance(port, int) else "name"
    return {"service": {"name": service, "port": {key: port}}}


def path(p, service, ptype="Prefix", port=8080):
    return {"path": p, "pathType": ptype, "backend": backend(service, port)}


def ingress(name, rules=(), ns=NS, tls=None, default=None, cls=None, annotations=None):
    spec = {"rules": [{"host": h, "http": {"paths": list(ps)}} if h else {"http": {"paths": list(ps)}} for h, ps in rules]}
    if tls is not None:
        spec["tls"] = tls
    if default is not None:
        spec["defaultBackend"] = default
    if cls is not None:
        spec["ingressClassName"] = cls
    meta = {"name": name, "namespace": ns, "annotations": dict(annotations or {})}
    return Raw(kind="Ingress", namespace=ns, name=name,
               obj={"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec})


def service(name, ns=NS, port=8080, port_name=None):
    return Service(namespace=ns, name=name, selector={"app": name}, cluster_ip="10.96.5.5",
                   ports=[ServicePort(port=port, target_port=80, name=port_name)])


def backend_pod(name, ns=NS, ready=True):
    return Pod(namespace=ns, name=f"{name}-pod", labels={"app": name}, ip="10.244.1.50", node="course-worker",
               ports=[ContainerPort(80)], ready=ready)


def world(ingresses, names, **kw):
    return World(ingresses=list(ingresses), services=[service(n) for n in names],
                 pods=[backend_pod(n) for n in names], **kw)


# The conformance suite's path-rules Ingress.
PATH_RULES = ingress("path-rules", [
    ("exact-path-rules", [path("/foo", "foo-exact", "Exact")]),
    ("prefix-path-rules", [path("/foo", "foo-prefix"), path("/aaa/bbb", "aaa-slash-bbb-prefix"), path("/aaa", "aaa-prefix")]),
    ("mixed-path-rules", [path("/foo", "foo-prefix"), path("/foo", "foo-exact", "Exact")]),
    ("trailing-slash-path-rules", [path("/aaa/bbb/", "aaa-slash-bbb-slash-prefix"), path("/foo/", "foo-slash-exact", "Exact")]),
])
PATH_WORLD = world([PATH_RULES], ["foo-exact", "foo-prefix", "aaa-slash-bbb-prefix", "aaa-prefix",
                                  "aaa-slash-bbb-slash-prefix", "foo-slash-exact"])


def served_by(host, p, w=PATH_WORLD, **kw):
    r = route(w, host, p, **kw)
    return r.service.split("/")[1] if r.service and r.status is None else r.status


def test_exact_path_matches_the_whole_path_only():
    assert served_by("exact-path-rules", "/foo") == "foo-exact"
    assert served_by("exact-path-rules", "/foo/") == 404
    assert served_by("exact-path-rules", "/FOO") == 404
    assert served_by("exact-path-rules", "/bar") == 404


def test_exact_path_with_trailing_slash_does_not_match_without_it():
    assert served_by("trailing-slash-path-rules", "/foo") == 404
    assert served_by("trailing-slash-path-rules", "/foo/") == "foo-slash-exact"


def test_prefix_path_matches_element_wise_and_is_case_sensitive():
    assert served_by("prefix-path-rules", "/foo") == "foo-prefix"
    assert served_by("prefix-path-rules", "/foo/") == "foo-prefix"
    assert served_by("prefix-path-rules", "/FOO") == 404
    assert served_by("prefix-path-rules", "/aaaccc") == 404


def test_longest_matching_prefix_wins():
    assert served_by("prefix-path-rules", "/aaa/bbb") == "aaa-slash-bbb-prefix"
    assert served_by("prefix-path-rules", "/aaa/bbb/ccc") == "aaa-slash-bbb-prefix"
    assert served_by("prefix-path-rules", "/aaa/ccc") == "aaa-prefix"


def test_prefix_trailing_slash_is_ignored_on_the_rule_side():
    assert served_by("trailing-slash-path-rules", "/aaa/bbb") == "aaa-slash-bbb-slash-prefix"
    assert served_by("trailing-slash-path-rules", "/aaa/bbb/") == "aaa-slash-bbb-slash-prefix"


def test_exact_beats_prefix_on_the_same_path():
    assert served_by("mixed-path-rules", "/foo") == "foo-exact"
    assert served_by("mixed-path-rules", "/foo/bar") == "foo-prefix"


def test_path_match_rules_directly():
    assert path_match("Prefix", "/", "/anything/at/all")
    assert path_match("Prefix", "/foo/bar", "/foo/bar/baz")
    assert not path_match("Prefix", "/foo/bar", "/foo/barbaz")
    assert path_match("Prefix", "/foo/", "/foo")
    assert not path_match("Exact", "/foo", "/foo/")


def test_implementation_specific_is_treated_as_prefix_and_the_trace_says_so():
    w = world([ingress("web", [("", [path("/app", "web", "ImplementationSpecific")])])], ["web"])
    r = route(w, "any.host", "/app/x")
    assert r.service == f"{NS}/web" and r.status is None
    assert any("ImplementationSpecific is treated as Prefix" in line for line in r.trace)


# The conformance suite's host-rules Ingress.
HOST_RULES = ingress("host-rules", [
    ("*.foo.com", [path("/", "wildcard-foo-com")]),
    ("foo.bar.com", [path("/", "foo-bar-com", port="http")]),
])


def host_world():
    w = world([HOST_RULES], ["wildcard-foo-com"])
    w.services.append(service("foo-bar-com", port_name="http"))
    w.pods.append(backend_pod("foo-bar-com"))
    return w


def test_exact_host_rule():
    w = host_world()
    r = route(w, "foo.bar.com", "/")
    assert (r.service, r.port, r.status, r.ingress) == (f"{NS}/foo-bar-com", "http", None, f"{NS}/host-rules")
    assert route(w, "subdomain.bar.com", "/").status == 404


def test_host_is_case_insensitive_and_ignores_the_port():
    assert route(host_world(), "FOO.Bar.com:8080", "/").service == f"{NS}/foo-bar-com"


def test_wildcard_host_matches_exactly_one_label():
    w = host_world()
    assert route(w, "bar.foo.com", "/").service == f"{NS}/wildcard-foo-com"
    deeper = route(w, "baz.bar.foo.com", "/")
    assert deeper.status == 404
    assert any("cloud-provider-kind (Gateway API semantics) would match it" in line for line in deeper.trace)
    assert route(w, "foo.com", "/").status == 404


def test_host_match_specificity():
    assert host_match("foo.com", "foo.com") == (2, 7)
    assert host_match("*.foo.com", "a.foo.com") == (1, 9)
    assert host_match("", "whatever") == (0, 0)
    assert host_match("*.foo.com", "a.b.foo.com") is None


def test_exact_host_beats_wildcard_beats_hostless_across_ingresses():
    w = world([
        ingress("any", [("", [path("/", "catch-all")])]),
        ingress("wild", [("*.shop.test", [path("/", "wild")])]),
        ingress("exact", [("www.shop.test", [path("/", "exact")])]),
    ], ["catch-all", "wild", "exact"])
    assert served_by("www.shop.test", "/", w) == "exact"
    assert served_by("api.shop.test", "/", w) == "wild"
    assert served_by("other.test", "/", w) == "catch-all"


def test_a_host_whose_paths_do_not_match_falls_through_to_the_hostless_rule():
    w = world([ingress("site", [("shop.test", [path("/api", "api")]), ("", [path("/", "frontend")])])],
              ["api", "frontend"])
    assert served_by("shop.test", "/api/items", w) == "api"
    assert served_by("shop.test", "/index.html", w) == "frontend"


def test_rule_without_host_matches_every_host():
    w = world([ingress("web", [("", [path("/", "web")])])], ["web"])
    assert served_by("anything.example", "/x", w) == "web"
    assert served_by("10.0.0.1", "/", w) == "web"


def test_default_backend_takes_requests_no_rule_matches():
    w = world([ingress("default-backend", default=backend("echo-service"))], ["echo-service"])
    for host, p in [("my-host", "/"), ("my-host", "/sub-path"), ("", "/resource")]:
        r = route(w, host, p)
        assert r.service == f"{NS}/echo-service" and r.status is None and r.rule_path is None
        assert any("spec.defaultBackend of Ingress lesson5/default-backend" in line for line in r.trace)


def test_no_match_and_no_default_backend_is_404():
    w = world([ingress("web", [("shop.test", [path("/", "web")])])], ["web"])
    r = route(w, "other.test", "/")
    assert (r.status, r.service, r.ingress) == (404, None, None)
    assert "no spec.defaultBackend applies: 404" in r.trace[-1]


def test_hostless_rule_replaces_the_default_backend_on_cloud_provider_kind():
    w = world([ingress("web", [("", [path("/api", "api")])], default=backend("fallback"))], ["api", "fallback"])
    r = route(w, "x.test", "/other")
    assert r.status == 404
    assert any("ignores spec.defaultBackend" in p for p in r.problems)


def test_backend_port_by_name_refers_to_the_service_port_name():
    w = world([ingress("web", [("", [path("/", "web", port="http")])])], [])
    w.services.append(service("web", port=8080, port_name="http"))
    w.pods.append(backend_pod("web"))
    r = route(w, "x", "/")
    assert (r.service, r.port, r.status) == (f"{NS}/web", "http", None)
    assert any("Service lesson5/web port 8080 (http): 1 ready endpoint" in line for line in r.trace)


def test_unknown_backend_port_name_makes_the_whole_ingress_unserved():
    w = world([ingress("web", [("", [path("/", "web", port="web")]), ("a.test", [path("/", "other")])])], ["other"])
    w.services.append(service("web", port_name="http"))
    r = route(w, "a.test", "/")
    assert r.status == 404
    assert any("port name 'web' not found in Service lesson5/web (its port names: http)" in p for p in r.problems)


def test_backend_service_missing_or_in_another_namespace_is_5xx():
    w = world([ingress("web", [("", [path("/", "web")])])], [])
    w.services.append(service("web", ns="default"))
    r = route(w, "x", "/")
    assert r.status == 503 and r.service == f"{NS}/web"
    assert any("Service web not found in namespace lesson5; it exists in namespace default" in p for p in r.problems)


def test_backend_port_number_the_service_lacks_is_5xx():
    w = world([ingress("web", [("", [path("/", "web", port=80)])])], ["web"])
    r = route(w, "x", "/")
    assert r.status == 503 and any("has no port 80 (its ports: 8080)" in p for p in r.problems)


def test_backend_without_ready_endpoints_is_503_with_the_reason():
    w = World(ingresses=[ingress("web", [("", [path("/", "web")])])], services=[service("web")],
              pods=[backend_pod("web", ready=False)])
    r = route(w, "x", "/")
    assert r.status == 503 and any("none is ready" in p for p in r.problems)


def test_identical_rules_in_two_ingresses_are_reported_as_a_conflict():
    w = world([ingress("a", [("shop.test", [path("/", "one")])]), ingress("b", [("shop.test", [path("/", "two")])])],
              ["one", "two"])
    r = route(w, "shop.test", "/")
    assert r.service == f"{NS}/one"
    assert any("lesson5/a and lesson5/b both route host shop.test" in p for p in r.problems)


def tls_secret(name, ns=NS, type_="kubernetes.io/tls", data=("tls.crt", "tls.key")):
    return Raw(kind="Secret", namespace=ns, name=name,
               obj={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
                    "type": type_, "data": {k: "LS0t" for k in data}})


def tls_world(secret):
    ing = ingress("shop", [("shop.test", [path("/", "web")])], tls=[{"hosts": ["shop.test"], "secretName": "shop-tls"}])
    w = world([ing], ["web"])
    w.secrets.extend(secret)
    return w


def test_https_uses_the_tls_secret_of_the_matching_tls_entry():
    r = route(tls_world([tls_secret("shop-tls")]), "shop.test", "/", scheme="https")
    assert (r.tls_secret, r.tls_ok, r.problems, r.status) == (f"{NS}/shop-tls", True, [], None)


def test_tls_secret_missing():
    r = route(tls_world([]), "shop.test", "/", scheme="https")
    assert r.tls_ok is False and "Secret shop-tls not found in namespace lesson5" in r.problems[0]


def test_tls_secret_in_another_namespace_is_not_usable():
    r = route(tls_world([tls_secret("shop-tls", ns="default")]), "shop.test", "/", scheme="https")
    assert r.tls_ok is False
    assert r.problems == ["Secret shop-tls exists in namespace default, but an Ingress can only use a Secret in its own "
                          "namespace lesson5"]


def test_tls_secret_of_the_wrong_type_or_without_keys():
    wrong = route(tls_world([tls_secret("shop-tls", type_="Opaque")]), "shop.test", "/", scheme="https")
    assert wrong.tls_ok is False and "has type Opaque; an Ingress needs type kubernetes.io/tls" in wrong.problems[0]
    nokey = route(tls_world([tls_secret("shop-tls", data=("tls.crt",))]), "shop.test", "/", scheme="https")
    assert nokey.tls_ok is False and "lacks tls.key" in nokey.problems[0]


def test_tls_entry_hosts_can_be_wildcards_and_must_cover_the_host():
    ing = ingress("shop", [("", [path("/", "web")])], tls=[{"hosts": ["*.shop.test"], "secretName": "wild"}])
    w = world([ing], ["web"])
    w.secrets.append(tls_secret("wild"))
    assert route(w, "www.shop.test", "/", scheme="https").tls_secret == f"{NS}/wild"
    uncovered = route(w, "shop.test", "/", scheme="https")
    assert uncovered.tls_ok is False and "no Ingress lists host shop.test under spec.tls" in uncovered.problems[0]


def test_plain_http_ignores_tls():
    r = route(tls_world([]), "shop.test", "/")
    assert (r.tls_secret, r.tls_ok, r.problems) == (None, None, [])


def ingress_class(name, default=False):
    ann = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return Raw(kind="IngressClass", namespace=None, name=name,
               obj={"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                    "metadata": {"name": name, "annotations": ann}, "spec": {"controller": "x"}})


def test_ingress_class_of_prefers_the_spec_then_the_legacy_annotation_then_the_default():
    w = World(ingress_classes=[ingress_class("cloud-provider-kind", default=True), ingress_class("nginx")])
    assert ingress_class_of(w, ingress("a", cls="nginx")) == "nginx"
    assert ingress_class_of(w, ingress("b", annotations={"kubernetes.io/ingress.class": "nginx"})) == "nginx"
    assert ingress_class_of(w, ingress("c")) == "cloud-provider-kind"
    assert ingress_class_of(World(), ingress("c")) is None


def test_only_ingresses_of_the_requested_class_route():
    ings = [ingress("mine", [("a.test", [path("/", "web")])], cls="cloud-provider-kind"),
            ingress("theirs", [("b.test", [path("/", "web")])], cls="some-invalid-class-name"),
            ingress("classless", [("c.test", [path("/", "web")])])]
    w = world(ings, ["web"])
    assert served_by("a.test", "/", w, ingress_class="cloud-provider-kind") == "web"
    skipped = route(w, "b.test", "/", ingress_class="cloud-provider-kind")
    assert skipped.status == 404
    assert any("Ingress lesson5/theirs skipped: its class is some-invalid-class-name" in line for line in skipped.trace)
    # Without a default IngressClass, an Ingress without class belongs to no controller.
    assert served_by("c.test", "/", w, ingress_class="cloud-provider-kind") == 404
    w.ingress_classes.append(ingress_class("cloud-provider-kind", default=True))
    assert served_by("c.test", "/", w, ingress_class="cloud-provider-kind") == "web"
    # No class given and the world holds the course class: the course controller decides.
    assert served_by("b.test", "/", w) == 404
    # ANY_INGRESS_CLASS: every Ingress counts.
    assert served_by("b.test", "/", w, ingress_class=ANY_INGRESS_CLASS) == "web"


def test_without_any_ingress_class_in_the_world_every_ingress_counts():
    w = world([ingress("theirs", [("b.test", [path("/", "web")])], cls="nginx")], ["web"])
    assert served_by("b.test", "/", w) == "web"


def course_world(ingresses, names=("web",), extra_classes=()):
    return world(ingresses, list(names), ingress_classes=[course_ingress_class(), *extra_classes])


def test_an_ingress_naming_a_class_the_cluster_lacks_is_served_by_nobody_and_the_trace_says_why():
    w = course_world([ingress("web", [("shop.test", [path("/", "web")])], cls="nginx")])
    r = route(w, "shop.test", "/")
    assert (r.status, r.service) == (404, None)
    why = ("IngressClass nginx does not exist on this cluster: no controller serves this Ingress; "
           "use ingressClassName: cloud-provider-kind or leave it out")
    assert any("Ingress lesson5/web skipped" in line and why in line for line in r.trace)
    assert any(why in p for p in r.problems)
    # Another host: the skipped Ingress does not explain that miss, so it is not a problem of this request.
    assert route(w, "other.test", "/").problems == []


def test_an_ingress_of_an_existing_class_of_another_controller_is_not_served():
    nginx = Raw(kind="IngressClass", namespace=None, name="nginx",
                obj={"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}})
    w = course_world([ingress("web", [("shop.test", [path("/", "web")])], cls="nginx")], extra_classes=[nginx])
    r = route(w, "shop.test", "/")
    assert r.status == 404
    assert any("its class is nginx (controller k8s.io/ingress-nginx), not cloud-provider-kind" in p for p in r.problems)


def test_without_ingress_class_name_the_default_course_class_serves_it():
    w = course_world([ingress("web", [("shop.test", [path("/", "web")])])])
    assert served_by("shop.test", "/", w) == "web"
    assert served_by("shop.test", "/", w, ingress_class="nginx") == 404


def test_cloud_provider_kind_ignores_the_legacy_class_annotation():
    # The admission plugin leaves an annotated Ingress without class; cloud-provider-kind, the default, takes it.
    w = course_world([ingress("web", [("shop.test", [path("/", "web")])],
                              annotations={"kubernetes.io/ingress.class": "nginx"})])
    r = route(w, "shop.test", "/")
    assert r.service == f"{NS}/web" and r.status is None
    assert any("ignores the legacy annotation kubernetes.io/ingress.class: nginx" in line for line in r.trace)
    # A controller that honours the annotation would see class nginx.
    assert served_by("shop.test", "/", w, ingress_class="nginx") == "web"


def test_two_default_classes_make_the_api_server_refuse_a_classless_ingress():
    w = course_world([ingress("web", [("shop.test", [path("/", "web")])])],
                     extra_classes=[ingress_class("other", default=True)])
    r = route(w, "shop.test", "/")
    assert r.status == 404
    assert any("the API server refuses an Ingress without ingressClassName while 2 IngressClasses are marked default" in p
               for p in r.problems)


def test_the_default_class_annotation_must_be_exactly_true():
    w = World(ingress_classes=[Raw(kind="IngressClass", namespace=None, name="x", obj={
        "metadata": {"name": "x", "annotations": {"ingressclass.kubernetes.io/is-default-class": "True"}}})])
    assert ingress_class_of(w, ingress("c")) is None


def test_namespace_limits_routing_to_that_namespaces_ingresses():
    w = world([ingress("web", [("", [path("/", "web")])])], ["web"])
    assert served_by("x", "/", w, namespace=NS) == "web"
    assert served_by("x", "/", w, namespace="other") == 404


def test_query_string_is_not_part_of_the_path():
    assert served_by("exact-path-rules", "/foo?x=1") == "foo-exact"
