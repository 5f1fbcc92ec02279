"""What a pod really listens on.

A containerPort is documentation: the API server does not check it and a process may listen on any
port. Where the simulator can know what the process does (the course's agnhost servers, whose
arguments say the port), it follows the process, as a real cluster would. For other images it
trusts the declared containerPorts, and the lesson says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.model.objects import Pod


@dataclass(frozen=True)
class Listener:
    port: int
    protocol: str  # TCP | UDP | SCTP
    http: bool  # answers HTTP (agnhost netexec, web servers)
    netexec: bool = False  # agnhost netexec: serves /clientip, /hostname, /echo
    why: str = ""  # where we know it from, for traces


# agnhost defaults (test/images/agnhost/netexec and serve-hostname sources)
NETEXEC_HTTP_DEFAULT = 8080
NETEXEC_UDP_DEFAULT = 8081
SERVE_HOSTNAME_DEFAULT = 9376
# Images whose port we know without a containerPort (their stock configuration).
WELL_KNOWN_HTTP = {"nginx": 80, "httpd": 80, "traefik/whoami": 80, "hashicorp/http-echo": 5678}


def _flags(args: list[str]) -> dict[str, str]:
    """Parse Go-style flags: --a=b, --a b, -a=b; a bare --flag is "true"."""
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("-"):
            name = a.lstrip("-")
            if "=" in name:
                k, _, v = name.partition("=")
                out[k] = v
            elif i + 1 < len(args) and not str(args[i + 1]).startswith("-"):
                out[name] = str(args[i + 1])
                i += 1
            else:
                out[name] = "true"
        i += 1
    return out


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _image_name(image: str) -> str:
    """registry.k8s.io/e2e-test-images/agnhost:2.66.1 -> e2e-test-images/agnhost; nginx:1.27 -> nginx."""
    name = image.split("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":")[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts[:1] == ["library"]:
        parts = parts[1:]
    return "/".join(parts)


def container_listeners(container: dict) -> list[Listener] | None:
    """Listeners of one container when its process is known; None when only containerPorts can tell."""
    image = _image_name(str(container.get("image") or ""))
    argv = [str(a) for a in (container.get("command") or [])] + [str(a) for a in (container.get("args") or [])]
    if image.endswith("agnhost"):
        # command may be ["/agnhost", "netexec", ...] or args ["netexec", ...]
        words = [a for a in argv if not a.endswith("/agnhost") and a != "agnhost"]
        sub = next((w for w in words if not w.startswith("-")), None)
        flags = _flags(words[words.index(sub) + 1 :] if sub else [])
        name = container.get("name") or "agnhost"
        if sub == "netexec":
            out = [
                Listener(_int(flags.get("http-port"), NETEXEC_HTTP_DEFAULT), "TCP", True, True, f"container {name}: agnhost netexec --http-port"),
                Listener(_int(flags.get("udp-port"), NETEXEC_UDP_DEFAULT), "UDP", False, False, f"container {name}: agnhost netexec --udp-port"),
            ]
            if "sctp-port" in flags:
                out.append(Listener(_int(flags.get("sctp-port"), 0), "SCTP", False, False, f"container {name}: agnhost netexec --sctp-port"))
            return out
        if sub == "serve-hostname":
            port = _int(flags.get("port"), SERVE_HOSTNAME_DEFAULT)
            http = flags.get("http", "true") != "false"
            out = []
            if flags.get("tcp") == "true" or http:
                out.append(Listener(port, "TCP", http, False, f"container {name}: agnhost serve-hostname --port"))
            if flags.get("udp") == "true":
                out.append(Listener(port, "UDP", False, False, f"container {name}: agnhost serve-hostname --udp"))
            return out
        if sub in ("pause", None) or sub in ("connect", "dns-suffix", "dns-server-list", "nettest"):
            return []  # a client: listens on nothing
        return None
    if image in WELL_KNOWN_HTTP and not container.get("ports") and not argv:
        port = WELL_KNOWN_HTTP[image]
        return [Listener(port, "TCP", True, False, f"container {container.get('name')}: {image} listens on {port}")]
    return None


def pod_listeners(pod: Pod) -> list[Listener]:
    """Every (port, protocol) the pod answers on."""
    out: list[Listener] = []
    known_containers = set()
    for c in pod.containers:
        ls = container_listeners(c)
        if ls is not None:
            out.extend(ls)
            known_containers.add(c.get("name"))
    for p in pod.ports:
        if p.container in known_containers and pod.containers:
            continue  # the process decides, not the declaration
        out.append(Listener(p.port, p.protocol, p.protocol == "TCP", False, f"containerPort {p.port}/{p.protocol} declared"))
    return out


def find_listener(pod: Pod, port: int, protocol: str) -> Listener | None:
    for listener in pod_listeners(pod):
        if listener.port == port and listener.protocol == protocol:
            return listener
    return None
