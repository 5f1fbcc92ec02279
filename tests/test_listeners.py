"""The simulator follows what a pod's process really listens on, not only its containerPort."""

from grader.model.listeners import container_listeners, find_listener, pod_listeners
from grader.model.objects import ContainerPort, Pod

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def pod(containers, ports=()):
    return Pod("ns", "p", {}, "10.244.1.2", "course-worker", list(ports), containers=containers)


def test_netexec_listens_on_its_http_and_udp_flags():
    ls = container_listeners({"name": "s", "image": AGNHOST, "args": ["netexec", "--http-port=8080", "--udp-port=8081"]})
    assert {(l.port, l.protocol) for l in ls} == {(8080, "TCP"), (8081, "UDP")}
    assert next(l for l in ls if l.protocol == "TCP").netexec


def test_netexec_defaults_are_8080_and_8081():
    ls = container_listeners({"name": "s", "image": AGNHOST, "args": ["netexec"]})
    assert {(l.port, l.protocol) for l in ls} == {(8080, "TCP"), (8081, "UDP")}


def test_netexec_flag_with_space_separated_value_and_command_form():
    ls = container_listeners({"name": "s", "image": AGNHOST, "command": ["/agnhost", "netexec"], "args": ["--http-port", "9000"]})
    assert (9000, "TCP") in {(l.port, l.protocol) for l in ls}


def test_declared_containerport_does_not_make_netexec_listen_there():
    p = pod([{"name": "s", "image": AGNHOST, "args": ["netexec", "--http-port=8080"]}], [ContainerPort(80, "TCP", "http", "s")])
    assert find_listener(p, 80, "TCP") is None
    assert find_listener(p, 8080, "TCP") is not None


def test_serve_hostname_tcp_without_http():
    ls = container_listeners({"name": "s", "image": AGNHOST, "args": ["serve-hostname", "--tcp", "--http=false", "--port", "80"]})
    assert [(l.port, l.protocol, l.http) for l in ls] == [(80, "TCP", False)]


def test_serve_hostname_udp_only():
    ls = container_listeners({"name": "s", "image": AGNHOST, "args": ["serve-hostname", "--udp", "--http=false", "--port", "53"]})
    assert [(l.port, l.protocol) for l in ls] == [(53, "UDP")]


def test_agnhost_pause_listens_on_nothing():
    assert container_listeners({"name": "c", "image": AGNHOST, "args": ["pause"]}) == []


def test_unknown_image_trusts_declared_container_ports():
    p = pod([{"name": "app", "image": "example/app:1"}], [ContainerPort(5000, "TCP", None, "app")])
    assert [(l.port, l.protocol) for l in pod_listeners(p)] == [(5000, "TCP")]


def test_nginx_without_ports_listens_on_80():
    p = pod([{"name": "web", "image": "nginx:1.27"}])
    assert find_listener(p, 80, "TCP") is not None


def test_world_built_without_container_specs_uses_declared_ports():
    p = pod([], [ContainerPort(8080, "TCP", "http")])
    assert find_listener(p, 8080, "TCP") is not None
    assert find_listener(p, 8080, "UDP") is None
