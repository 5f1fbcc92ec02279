"""Live probe commands, how their output is classified, and HTTP(S) from outside the cluster."""

from __future__ import annotations

import contextlib
import datetime
import http.server
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from grader.live_probes import (
    classify_connect,
    classify_resolve,
    clientip_command,
    connect_command,
    curl_command,
    http_get,
    kubectl_exec,
    outside_endpoint,
    parse_clientip,
    parse_dig,
    resolve_command,
)
from grader.cluster.runner import Completed


def test_connect_command_always_passes_a_timeout_and_lowercase_protocol():
    assert connect_command("10.96.12.3", 80) == ["/agnhost", "connect", "10.96.12.3:80", "--timeout=1s", "--protocol=tcp"]
    assert connect_command("fd00::1", 53, "UDP")[2:] == ["[fd00::1]:53", "--timeout=1s", "--protocol=udp"]


def test_kubectl_reproduction_is_pasteable():
    cmd = kubectl_exec("lesson4", "client", connect_command("10.96.12.3", 80))
    assert cmd == "kubectl exec -n lesson4 client -- /agnhost connect 10.96.12.3:80 --timeout=1s --protocol=tcp"
    assert kubectl_exec("x", "a", ["dig", "web"], context="kind-course").startswith("kubectl --context kind-course exec")


@pytest.mark.parametrize(
    "code, stderr, expected",
    [
        (0, "", (True, "allowed", "CONNECTED")),
        (1, "TIMEOUT\n", (False, "blocked", "TIMEOUT")),
        (1, "REFUSED\n", (False, "refused", "REFUSED")),
        (1, "DNS: lookup web on 10.96.0.10:53: no such host\n", (False, "dns-failure", "DNS")),
        (1, "OTHER: dial tcp: connect: no route to host\n", (False, "error", "OTHER")),
        (1, "UNKNOWN: address web: missing port in address\n", (False, "error", "UNKNOWN")),
        (1, "TIMEOUT: read udp 10.244.1.2:40000->10.96.0.10:53: i/o timeout\n", (False, "blocked", "TIMEOUT")),
        (None, "", (False, "error", "EXEC")),
    ],
)
def test_agnhost_connect_output_is_classified(code, stderr, expected):
    assert classify_connect(code, stderr) == expected


DIG_SEARCH = """\
;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1
;; flags: qr aa rd; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1

;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 2
;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1

web.lesson3.svc.cluster.local. 30 IN A 10.96.44.7
"""

DIG_HEADLESS = """\
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 3
db.lesson3.svc.cluster.local. 30 IN A 10.244.1.5
db.lesson3.svc.cluster.local. 30 IN A 10.244.2.9
"""

DIG_EXTERNAL = """\
;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4
ext.lesson3.svc.cluster.local. 30 IN CNAME example.org.
"""

DIG_NX = ";; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 5\n"


def test_resolve_uses_the_pods_search_list():
    assert resolve_command("web")[:2] == ["dig", "+search"]


def test_dig_output_keeps_the_final_answer_after_search_suffixes():
    answer = parse_dig(DIG_SEARCH)
    assert answer.status == "NOERROR"
    assert answer.addresses == ["10.96.44.7"]
    assert answer.names == ["web.lesson3.svc.cluster.local"]


def test_resolve_compares_with_addresses_from_the_api():
    assert classify_resolve(0, DIG_SEARCH, ["10.96.44.7"])[:2] == (True, "allowed")
    assert classify_resolve(0, DIG_SEARCH, ["10.96.44.8"])[:2] == (False, "error")
    assert classify_resolve(0, DIG_HEADLESS, ["10.244.2.9", "10.244.1.5"])[0] is True
    assert classify_resolve(0, DIG_EXTERNAL)[2].cnames == ["example.org"]
    assert classify_resolve(0, DIG_NX)[:2] == (False, "not-found")
    assert classify_resolve(9, ";; connection timed out; no servers could be reached\n")[:2] == (False, "dns-failure")


def test_clientip_probe_reads_netexecs_answer():
    assert clientip_command("10.96.1.1", 8080) == ["curl", "-sS", "--max-time", "2", "http://10.96.1.1:8080/clientip"]
    assert parse_clientip("10.244.1.7:43120") == "10.244.1.7"
    assert parse_clientip("[fd00::7]:43120") == "fd00::7"
    assert parse_clientip("") is None and parse_clientip("<html>") is None


class Runner:
    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def run(self, argv, timeout=None, **_):
        self.calls.append(argv)
        for prefix, out in self.answers.items():
            if tuple(argv[: len(prefix)]) == prefix:
                return Completed(argv, 0, out)
        return Completed(argv, 1, "", "no such container")


def test_outside_endpoint_is_the_ip_itself_on_linux():
    runner = Runner({})
    assert outside_endpoint("172.18.0.9", 80, runner, system="Linux") == ("172.18.0.9", 80)
    assert runner.calls == []


def test_outside_endpoint_uses_cloud_provider_kinds_port_mapping_on_macos():
    runner = Runner({
        ("docker", "ps"): "kindccm-AAA\nkindccm-BBB\n",
        ("docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "kindccm-AAA"): "172.18.0.8 ",
        ("docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", "kindccm-BBB"): "172.18.0.9 ",
        ("docker", "port", "kindccm-BBB", "80/tcp"): "0.0.0.0:42381\n[::]:42381\n",
    })
    assert outside_endpoint("172.18.0.9", 80, runner, system="Darwin") == ("127.0.0.1", 42381)


def _self_signed(tmp_path, cn, sans):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"host={self.headers['Host']} path={self.path}".encode()
        self.send_response(404 if self.path == "/missing" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@contextlib.contextmanager
def plain_and_tls_servers(tmp_path, handler, cn, sans, sni_callback=None):
    """Two local HTTP servers running `handler`, one plain and one TLS with a self-signed certificate for
    `cn`/`sans`; yields (plain port, TLS port)."""
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    tls = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    cert, key = _self_signed(tmp_path, cn, sans)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if sni_callback is not None:
        ctx.sni_callback = sni_callback
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        yield plain.server_address[1], tls.server_address[1]
    finally:
        for s in (plain, tls):
            s.shutdown()
            s.server_close()


@pytest.fixture
def servers(tmp_path):
    seen_sni = []
    with plain_and_tls_servers(tmp_path, _Echo, "shop.example.test", ["shop.example.test", "www.shop.example.test"],
                               sni_callback=lambda sock, name, c: seen_sni.append(name)) as (plain_port, tls_port):
        yield plain_port, tls_port, seen_sni


def test_http_from_outside_sends_the_host_header(servers):
    plain_port, _, _ = servers
    out = http_get("127.0.0.1", plain_port, "shop.example.test", "/cart")
    assert out.ok and out.status == 200
    assert out.body == "host=shop.example.test path=/cart"
    missing = http_get("127.0.0.1", plain_port, "shop.example.test", "/missing")
    assert (missing.ok, missing.verdict) == (False, "not-found")


def test_https_from_outside_sends_sni_and_reports_the_certificate(servers):
    _, tls_port, seen_sni = servers
    out = http_get("127.0.0.1", tls_port, "shop.example.test", "/", tls=True)
    assert out.ok
    assert seen_sni == ["shop.example.test"]
    assert out.certificate["subject"] == "shop.example.test"
    assert out.certificate["sans"] == ["shop.example.test", "www.shop.example.test"]
    assert out.certificate["issuer"] == "shop.example.test" and out.certificate["self_signed"]


def test_unreachable_outside_address_is_refused_and_reproducible():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = http_get("127.0.0.1", port, "shop.example.test")
    assert (out.ok, out.verdict) == (False, "refused")
    assert curl_command("172.18.0.9", 443, "shop.example.test", "/", tls=True) == (
        "curl -svk --resolve shop.example.test:443:172.18.0.9 https://shop.example.test/"
    )
