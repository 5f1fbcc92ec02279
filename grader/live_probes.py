"""Live probes: the commands run in pods, how their output is classified, and outside HTTP(S).

In-cluster probes exec in the source pod (a course-provided agnhost pod, which has agnhost, dig and
curl), so they see exactly that pod's resolv.conf and NetworkPolicies:
- Connect:  /agnhost connect HOST:PORT --timeout=1s --protocol=tcp|udp|sctp
- Resolve:  dig +search +noall +comments +answer NAME  (uses the pod's search list and ndots:5)
- ClientIP: curl -sS --max-time 2 http://HOST:PORT/clientip  (agnhost netexec answers "ip:port")
Outside probes (Http) run from the host with Python's ssl + http.client, so the served certificate
can be read; on macOS/Windows the host cannot route to the kind network, so `outside_endpoint` maps
the LoadBalancer/Ingress IP to the host port cloud-provider-kind publishes (--enable-lb-port-mapping).

The verdict classes (allowed, blocked, refused, dns-failure, error) are evidence, not grades: a drop
by a NetworkPolicy usually shows as TIMEOUT and a missing listener as REFUSED, but checks should
grade on `ok` (connected or not) and print the class to explain.
"""

from __future__ import annotations

import http.client
import ipaddress
import platform
import shlex
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

AGNHOST = "/agnhost"
CONNECT_TIMEOUT = "1s"


def connect_command(host: str, port: int, protocol: str = "TCP") -> list[str]:
    """argv of the agnhost connect probe (always with a timeout: agnhost's default waits forever)."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [AGNHOST, "connect", target, f"--timeout={CONNECT_TIMEOUT}", f"--protocol={protocol.lower()}"]


def resolve_command(name: str) -> list[str]:
    """argv of the DNS probe: dig with the pod's own search list, printing the status line and answers."""
    return ["dig", "+search", "+noall", "+comments", "+answer", "+time=2", "+tries=2", name]


def lookup_command(name: str) -> list[str]:
    """argv of the quick lookup made before a connect by name: the pod's resolver, short timeouts.

    agnhost connect NAME:PORT bounds only the dial with --timeout; its lookup waits for the resolver (5 s per
    try, two tries: 10 s with DNS blocked, more when a policy drops instead of rejecting), longer than any exec
    timeout we would choose. Asking first, with dig's timeouts, tells a blocked lookup from a blocked connection.
    """
    return ["dig", "+search", "+noall", "+comments", "+answer", "+time=1", "+tries=2", name]


def clientip_command(host: str, port: int) -> list[str]:
    """argv of the client-IP probe against an agnhost netexec server."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ["curl", "-sS", "--max-time", "2", f"http://{target}/clientip"]


def kubectl_exec(namespace: str, pod: str, argv: list[str], context: str | None = None) -> str:
    """The kubectl command a learner can paste to run the same probe."""
    ctx = f"--context {shlex.quote(context)} " if context else ""
    return f"kubectl {ctx}exec -n {shlex.quote(namespace)} {shlex.quote(pod)} -- {shlex.join(argv)}"


CONNECT_CLASSES = {
    "TIMEOUT": "blocked",
    "REFUSED": "refused",
    "DNS": "dns-failure",
    "OTHER": "error",
    "UNKNOWN": "error",
}


def classify_connect(returncode: int | None, stderr: str, timed_out: bool = False) -> tuple[bool, str, str]:
    """(connected, verdict, class) from agnhost connect's exit code and stderr.

    class is agnhost's own word: CONNECTED, TIMEOUT, REFUSED, DNS, OTHER or UNKNOWN (or EXEC when the
    probe itself did not run).
    """
    if returncode == 0:
        return True, "allowed", "CONNECTED"
    if returncode is None:
        # exec could not finish: the 1 s agnhost timeout should always end it first
        return False, "error", "EXEC"
    first = stderr.strip().splitlines()[0] if stderr.strip() else ""
    word = first.split(":", 1)[0].strip().upper()
    if word in CONNECT_CLASSES:
        return False, CONNECT_CLASSES[word], word
    return False, "error", "OTHER"


@dataclass
class DnsAnswer:
    """dig's view of one lookup."""

    status: str  # NOERROR, NXDOMAIN, SERVFAIL... or "" when dig printed no header (timeout)
    addresses: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # owner names of the answers (the FQDN the search list hit)


def parse_dig(output: str) -> DnsAnswer:
    """Parse `dig +noall +comments +answer` output."""
    status = ""
    answer = DnsAnswer(status)
    for line in output.splitlines():
        line = line.strip()
        if line.startswith(";; ->>HEADER<<-") and "status:" in line:
            status = line.split("status:", 1)[1].split(",", 1)[0].strip()
            # with +search dig prints one header per name tried; the last one is the final answer
            answer = DnsAnswer(status)
            continue
        if not line or line.startswith(";"):
            continue
        parts = line.split()
        if len(parts) >= 5 and parts[2].upper() == "IN":
            rtype, data = parts[3].upper(), parts[4]
            if rtype in ("A", "AAAA"):
                answer.addresses.append(data)
            elif rtype == "CNAME":
                answer.cnames.append(data.rstrip("."))
            answer.names.append(parts[0].rstrip("."))
    answer.status = status
    return answer


def classify_resolve(returncode: int | None, stdout: str, expected: list[str] | None = None) -> tuple[bool, str, DnsAnswer]:
    """(resolved, verdict, answer). `expected` (ClusterIP or pod IPs read from the API) must all be answered."""
    answer = parse_dig(stdout)
    if returncode is None:
        return False, "error", answer
    if answer.status == "NXDOMAIN":
        return False, "not-found", answer
    if answer.status != "NOERROR" or returncode != 0:
        return False, "dns-failure", answer
    if not answer.addresses and not answer.cnames:
        return False, "not-found", answer
    if expected is not None and sorted(expected) != sorted(answer.addresses):
        return False, "error", answer
    return True, "allowed", answer


def parse_clientip(stdout: str) -> str | None:
    """agnhost netexec's /clientip answers "ip:port"; return the IP."""
    text = stdout.strip()
    if not text:
        return None
    host = text.rsplit(":", 1)[0].strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


# ---- outside the cluster ------------------------------------------------------------------------


def host_can_route_to_kind(system: str | None = None) -> bool:
    """Linux hosts reach the kind network's IPs directly; Docker Desktop/Podman machine VMs do not."""
    return (system or platform.system()) == "Linux"


def outside_endpoint(ip: str, port: int, runner: Any, engine: str = "docker", system: str | None = None) -> tuple[str, int]:
    """Where the host should connect to reach `ip:port` on the kind network.

    On Linux that is `ip:port` itself. On macOS/Windows cloud-provider-kind runs with
    --enable-lb-port-mapping, which publishes each Envoy container's port on a host port: find the
    `kindccm-*` container holding `ip` and ask the engine for that mapping. Falls back to `ip:port`.
    """
    if host_can_route_to_kind(system):
        return ip, port
    listing = runner.run([engine, "ps", "--filter", "name=kindccm-", "--format", "{{.Names}}"], timeout=20)
    for name in listing.stdout.split():
        addr = runner.run([engine, "inspect", "--format",
                           "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name], timeout=20)
        if ip in addr.stdout.split():
            mapped = runner.run([engine, "port", name, f"{port}/tcp"], timeout=20)
            for line in mapped.stdout.splitlines():
                host, _, hport = line.strip().rpartition(":")
                if hport.isdigit():
                    return ("127.0.0.1" if host in ("0.0.0.0", "[::]", "") else host.strip("[]")), int(hport)
    return ip, port


@dataclass
class HttpOutcome:
    """What one HTTP(S) request from outside the cluster saw."""

    ok: bool
    verdict: str
    status: int | None = None
    body: str = ""
    error: str = ""
    certificate: dict[str, Any] = field(default_factory=dict)
    location: str = ""  # a redirect's Location header (requests are never followed)
    headers: dict[str, str] = field(default_factory=dict)  # the response headers


def describe_certificate(der: bytes) -> dict[str, Any]:
    """Subject CN, SANs (DNS names), issuer CN and validity of a DER certificate, via `cryptography`."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)

    def cn(name: x509.Name) -> str:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attrs[0].value) if attrs else name.rfc4514_string()

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    return {
        "subject": cn(cert.subject),
        "sans": list(sans),
        "issuer": cn(cert.issuer),
        "self_signed": cert.issuer == cert.subject,
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def http_get(address: str, port: int, host_header: str, path: str = "/", tls: bool = False,
             timeout: float = 3.0, *, method: str = "GET", headers: tuple[tuple[str, str], ...] = ()) -> HttpOutcome:
    """GET (or `method`) http(s)://address:port/path with Host (and SNI) = host_header and extra `headers`;
    never verifies the certificate (course certificates are self-signed), but reads and reports it; never
    follows a redirect (its Location is reported)."""
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = _SniHTTPSConnection(address, port, host_header, ctx, timeout)
        else:
            conn = http.client.HTTPConnection(address, port, timeout=timeout)
        conn.request(method, path, headers={"Host": host_header, **dict(headers)})
        cert: dict[str, Any] = {}
        if tls and isinstance(conn.sock, ssl.SSLSocket):  # read before the response closes the socket
            der = conn.sock.getpeercert(binary_form=True)
            if der:
                cert = describe_certificate(der)
        resp = conn.getresponse()
        body = resp.read(4096).decode(errors="replace")
        response_headers = {k: v for k, v in resp.getheaders()}
        conn.close()
    except (socket.timeout, TimeoutError):
        return HttpOutcome(False, "blocked", error=f"no answer from {address}:{port} within {timeout:g} s")
    except ConnectionRefusedError:
        return HttpOutcome(False, "refused", error=f"connection to {address}:{port} refused")
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        return HttpOutcome(False, "error", error=f"{type(exc).__name__}: {exc}")
    location = resp.getheader("Location") or ""
    if resp.status == 404:
        return HttpOutcome(False, "not-found", resp.status, body, certificate=cert, headers=response_headers)
    return HttpOutcome(200 <= resp.status < 400, "allowed" if resp.status < 400 else "error", resp.status, body,
                       certificate=cert, location=location, headers=response_headers)


class _SniHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an IP while sending `server_hostname` as SNI (http.client would send the IP)."""

    def __init__(self, address: str, port: int, server_hostname: str, ctx: ssl.SSLContext, timeout: float):
        super().__init__(address, port, timeout=timeout, context=ctx)
        self._sni = server_hostname
        self._ctx = ctx

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._sni)


def curl_command(address: str, port: int, host_header: str, path: str = "/", tls: bool = False, *,
                 method: str = "GET", headers: tuple[tuple[str, str], ...] = ()) -> str:
    """The curl command that reproduces an outside probe (with --resolve so Host and SNI match)."""
    scheme = "https" if tls else "http"
    default = 443 if tls else 80
    where = f"{host_header}:{port}" if port != default else host_header
    extra = "".join(f"-H {shlex.quote(f'{k}: {v}')} " for k, v in headers) + (f"-X {method} " if method != "GET" else "")
    return (f"curl -sv{'k' if tls else ''} {extra}--resolve {host_header}:{port}:{address} "
            f"{shlex.quote(f'{scheme}://{where}{path}')}")
