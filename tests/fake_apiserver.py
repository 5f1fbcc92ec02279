"""An in-process fake of the Kubernetes API server's HTTP surface, for the live backend's tests.

The real `kubernetes` client talks to it over 127.0.0.1: discovery (/version, /api/v1, /apis),
server-side apply (PATCH application/apply-patch+yaml), get/list/delete of the stored objects,
scripted watches (`watch_events`), and pod exec over a websocket that speaks the v4.channel.k8s.io
protocol: stdout on channel 1, stderr on channel 2, and the metav1.Status carrying the exit code on
channel 3 (left empty when the scripted command "hangs", which is what the API server does when a
command outlives the client's timeout).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# (group, version) -> [(plural, kind, namespaced)]
RESOURCES: dict[tuple[str, str], list[tuple[str, str, bool]]] = {
    ("", "v1"): [
        ("namespaces", "Namespace", False), ("pods", "Pod", True), ("services", "Service", True),
        ("configmaps", "ConfigMap", True), ("secrets", "Secret", True), ("endpoints", "Endpoints", True),
        ("nodes", "Node", False),
    ],
    ("apps", "v1"): [("deployments", "Deployment", True), ("daemonsets", "DaemonSet", True),
                     ("statefulsets", "StatefulSet", True)],
    ("networking.k8s.io", "v1"): [("networkpolicies", "NetworkPolicy", True), ("ingresses", "Ingress", True)],
    ("discovery.k8s.io", "v1"): [("endpointslices", "EndpointSlice", True)],
}


@dataclass
class ExecScript:
    """What the fake does for one exec: write these streams, then send `status` on channel 3.

    `status=None` sends nothing on channel 3 and keeps the connection open for `hang` seconds (or
    until the client closes it), like a command that has not finished.
    """

    stdout: str = ""
    stderr: str = ""
    status: dict[str, Any] | None = field(default_factory=lambda: {"kind": "Status", "status": "Success"})
    hang: float = 0.0


def exit_status(code: int) -> dict[str, Any]:
    """The Status the kubelet sends on channel 3 for a non-zero exit code."""
    if code == 0:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    return {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command [...], exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: str


class FakeApiServer:
    """Start with `with FakeApiServer() as api:`; `api.url` is the host for a kubernetes Configuration."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.exec_handler: Callable[[str, str, list[str]], ExecScript] = lambda ns, pod, cmd: ExecScript()
        self.readyz_ok = True  # False: /readyz answers 500, like an API server still starting
        # validate(obj) -> None, or (code, reason, message): the API's rejection of an apply (e.g. 422 Invalid)
        self.validate: Callable[[dict[str, Any]], tuple[int, str, str] | None] = lambda obj: None
        # on_apply(obj) mutates the stored object as controllers would (e.g. a kubelet making a pod Ready)
        self.on_apply: Callable[[dict[str, Any]], None] = lambda obj: None
        # each watch request (a list with ?watch=true) streams the next of these event lists, then ends
        # as a watch whose timeoutSeconds ran out; with none left it streams no event
        self.watch_events: list[list[dict[str, Any]]] = []
        # how each exec scripted with status=None ended: "closed by the client" or "hang ran out"
        self.hung_exec_endings: list[str] = []
        self.hung_exec_ended = threading.Event()
        self.version = "v1.37.0"  # /version's gitVersion
        # seconds a deleted Namespace stays Terminating (its content gone, deletionTimestamp set, new content
        # refused with 403 "being terminated") before it is gone too; 0: gone at once
        self.namespace_termination = 0.0
        # fault(request) -> None, or (code, reason, message[, retry_after]): an answer the server gives instead
        # of the real one (e.g. 503 while restarting, 429 throttled), before any other handling
        self.fault: Callable[[Request], tuple[Any, ...] | None] = lambda req: None
        self._rv = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    # ---- the object store -------------------------------------------------------------------

    def put(self, obj: dict[str, Any]) -> None:
        """Store an object as if something else had created it."""
        group, _, version = obj["apiVersion"].rpartition("/")
        key = (group, obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        with self._lock:
            self.objects[key] = copy.deepcopy(obj)

    def get(self, kind: str, name: str, namespace: str | None = None, group: str = "") -> dict[str, Any] | None:
        return self.objects.get((group, kind, namespace, name))

    def _remove_namespace(self, name: str) -> None:
        """A namespace and everything in it gone, as the namespace controller leaves it."""
        with self._lock:
            for key in [k for k in self.objects if k[2] == name or (k[1] == "Namespace" and k[3] == name)]:
                del self.objects[key]

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    # ---- HTTP -------------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def _record(self, body: str = "") -> Request:
                parts = urlsplit(self.path)
                req = Request(self.command, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                              {k.lower(): v for k, v in self.headers.items()}, body)
                api.requests.append(req)
                return req

            def _send_json(self, code: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send_json(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                       "reason": reason, "message": message, "code": code})

            def do_GET(self) -> None:
                req = self._record()
                if self.headers.get("Upgrade", "").lower() == "websocket":
                    return self._exec(req)
                api._route(self, req)

            def do_DELETE(self) -> None:
                api._route(self, self._record(self._read_body()))

            def do_PATCH(self) -> None:
                api._route(self, self._record(self._read_body()))

            def do_POST(self) -> None:
                api._route(self, self._record(self._read_body()))

            def _read_body(self) -> str:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length).decode() if length else ""

            # websocket exec ------------------------------------------------------------------
            def _exec(self, req: Request) -> None:
                parts = req.path.strip("/").split("/")  # api v1 namespaces NS pods NAME exec
                if len(parts) != 7 or parts[-1] != "exec":
                    return self._status(404, "NotFound", f"no exec endpoint at {req.path}")
                ns, pod = parts[3], parts[5]
                if api.get("Pod", pod, ns) is None:
                    return self._status(404, "NotFound", f'pods "{pod}" not found')
                command = [v for k, v in req.query if k == "command"]
                script = api.exec_handler(ns, pod, command)
                key = self.headers["Sec-WebSocket-Key"]
                accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
                self.send_response(101, "Switching Protocols")
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept)
                self.send_header("Sec-WebSocket-Protocol", "v4.channel.k8s.io")
                self.end_headers()
                self.wfile.flush()
                if script.stdout:
                    self._frame(0x2, b"\x01" + script.stdout.encode())
                if script.stderr:
                    self._frame(0x2, b"\x02" + script.stderr.encode())
                if script.status is None:
                    api.hung_exec_endings.append(self._wait_for_client_close(script.hang))
                    api.hung_exec_ended.set()
                else:
                    self._frame(0x2, b"\x03" + json.dumps(script.status).encode())
                    self._frame(0x8, struct.pack("!H", 1000))
                self.close_connection = True

            def _frame(self, opcode: int, payload: bytes) -> None:
                header = bytes([0x80 | opcode])
                n = len(payload)
                if n < 126:
                    header += bytes([n])
                elif n < 65536:
                    header += bytes([126]) + struct.pack("!H", n)
                else:
                    header += bytes([127]) + struct.pack("!Q", n)
                try:
                    self.wfile.write(header + payload)
                    self.wfile.flush()
                except OSError:
                    pass

            def _wait_for_client_close(self, hang: float) -> str:
                # Answer the client's close frame, as a real server does, so its close() returns at once.
                deadline = time.monotonic() + hang
                sock = self.connection
                sock.settimeout(0.05)
                buf = b""
                while time.monotonic() < deadline and not api._stop.is_set():
                    try:
                        chunk = sock.recv(4096)
                    except socket.timeout:
                        continue
                    except OSError:
                        return "closed by the client"
                    if not chunk:
                        return "closed by the client"
                    buf += chunk
                    if buf and buf[0] & 0x0F == 0x8:  # the client's close frame
                        self._frame(0x8, struct.pack("!H", 1000))
                        return "closed by the client"
                return "hang ran out"

        return Handler

    def _route(self, h: Any, req: Request) -> None:
        parts = [p for p in req.path.split("/") if p]
        if req.path == "/readyz":
            body = b"ok" if self.readyz_ok else b"[-]etcd failed"
            h.send_response(200 if self.readyz_ok else 500)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return None
        injected = self.fault(req)
        if injected is not None:
            code, reason, message, *after = injected
            if after:
                h.send_response(code)
                data = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                                   "message": message, "code": code}).encode()
                h.send_header("Content-Type", "application/json")
                h.send_header("Retry-After", str(after[0]))
                h.send_header("Content-Length", str(len(data)))
                h.end_headers()
                h.wfile.write(data)
                return None
            return h._status(code, reason, message)
        if req.path in ("/version", "/version/"):
            major, minor = self.version.lstrip("v").split(".")[:2]
            return h._send_json(200, {"major": major, "minor": minor, "gitVersion": self.version,
                                      "gitCommit": "", "gitTreeState": "", "buildDate": "", "goVersion": "",
                                      "compiler": "", "platform": "linux/amd64"})
        if parts == ["api"]:
            return h._send_json(200, {"kind": "APIVersions", "versions": ["v1"]})
        if parts == ["apis"]:
            groups = [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                 "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
                for (g, v) in RESOURCES if g
            ]
            return h._send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if parts[:1] == ["api"]:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return h._status(404, "NotFound", f"the fake has no {req.path}")
        table = RESOURCES.get((group, version))
        if table is None:
            return h._status(404, "NotFound", f"the fake serves no {group}/{version}")
        gv = f"{group}/{version}" if group else version
        if not rest:
            resources = [{"name": p, "singularName": "", "namespaced": n, "kind": k,
                          "verbs": ["create", "delete", "get", "list", "patch", "watch"]} for p, k, n in table]
            resources.append({"name": "pods/exec", "singularName": "", "namespaced": True, "kind": "PodExecOptions",
                              "verbs": ["create", "get"]})
            return h._send_json(200, {"kind": "APIResourceList", "groupVersion": gv, "resources": resources})
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        kinds = {p: k for p, k, _ in table}
        if plural not in kinds:
            return h._status(404, "NotFound", f"the fake has no resource {plural} in {gv}")
        kind = kinds[plural]
        if req.method == "PATCH":
            return self._apply(h, req, group, gv, kind, namespace, name)
        if req.method == "GET" and name is None and dict(req.query).get("watch", "").lower() == "true":
            events = self.watch_events.pop(0) if self.watch_events else []
            data = "".join(json.dumps(e) + "\n" for e in events).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return None
        if req.method == "GET" and name is None:
            selector = dict(req.query).get("labelSelector", "")
            items = [o for (g, k, ns, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                     if g == group and k == kind and (namespace is None or ns == namespace)
                     and _matches(o, selector)]
            return h._send_json(200, {"kind": f"{kind}List", "apiVersion": gv,
                                      "metadata": {"resourceVersion": str(self._rv)}, "items": items})
        obj = self.objects.get((group, kind, namespace, name))
        if obj is None:
            return h._status(404, "NotFound", f'{plural} "{name}" not found')
        if req.method == "GET":
            return h._send_json(200, obj)
        if req.method == "DELETE":
            if kind == "Namespace" and self.namespace_termination > 0:
                with self._lock:  # the namespace controller removes the content first, the namespace last
                    for key in [k for k in self.objects if k[2] == name]:
                        del self.objects[key]
                    obj.setdefault("metadata", {}).setdefault("deletionTimestamp", "2026-12-01T00:00:00Z")
                    obj.setdefault("status", {})["phase"] = "Terminating"
                timer = threading.Timer(self.namespace_termination, self._remove_namespace, [name])
                timer.daemon = True
                timer.start()
                return h._send_json(200, obj)
            if kind == "Namespace":
                self._remove_namespace(name)
            else:
                with self._lock:
                    self.objects.pop((group, kind, namespace, name), None)
            return h._send_json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
        return h._status(405, "MethodNotAllowed", f"{req.method} not supported by the fake")

    def _apply(self, h: Any, req: Request, group: str, gv: str, kind: str, namespace: str | None,
               name: str | None) -> None:
        ctype = req.headers.get("content-type", "")
        if ctype != "application/apply-patch+yaml":
            return h._status(415, "UnsupportedMediaType", f"the fake only applies apply-patch+yaml, got {ctype}")
        query = dict(req.query)
        manager = query.get("fieldManager")
        if not manager:
            return h._status(400, "BadRequest", "PATCH, apply-patch: fieldManager is required for apply requests")
        body = yaml.safe_load(req.body) or {}
        rejected = self.validate(body)
        if rejected is not None:
            return h._status(*rejected)
        meta = body.setdefault("metadata", {})
        if meta.get("name") != name:
            return h._status(400, "BadRequest", "the name of the object does not match the name on the URL")
        if namespace:
            meta["namespace"] = namespace
        key = (group, kind, namespace, name)
        ns_obj = self.objects.get(("", "Namespace", None, namespace)) if namespace else None
        if ns_obj is not None and ns_obj.get("metadata", {}).get("deletionTimestamp") and key not in self.objects:
            return h._status(403, "Forbidden", f'{kind.lower()}s "{name}" is forbidden: unable to create new content '
                                               f"in namespace {namespace} because it is being terminated")
        immutable = _immutable_problem(self.objects.get(key), body, kind, name)
        if immutable is not None:
            return h._status(422, "Invalid", immutable)
        with self._lock:
            old = self.objects.get(key)
            owner = next((f["manager"] for f in (old or {}).get("metadata", {}).get("managedFields", [])), None)
            if old is not None and owner not in (None, manager) and query.get("force", "").lower() != "true":
                return h._status(409, "Conflict", f'Apply failed with 1 conflict: conflict with "{owner}"')
            stored = copy.deepcopy(body)
            stored["apiVersion"], stored["kind"] = gv, kind
            smeta = stored["metadata"]
            smeta["uid"] = (old or {}).get("metadata", {}).get("uid") or f"uid-{name}"
            smeta["resourceVersion"] = self._next_rv()
            smeta["managedFields"] = [{"manager": manager, "operation": "Apply", "apiVersion": gv}]
            if (old or {}).get("metadata", {}).get("deletionTimestamp"):  # an apply does not undo a deletion
                smeta["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
                stored["status"] = old.get("status")
            self.on_apply(stored)
            self.objects[key] = stored
        h._send_json(201 if old is None else 200, stored)


def _immutable_problem(old: dict[str, Any] | None, new: dict[str, Any], kind: str, name: str) -> str | None:
    """The API server's 422 message for an update that changes a field that cannot change in place, as the
    real validations word it (Pod spec, Service clusterIP, StatefulSet spec, a workload's selector)."""
    if old is None:
        return None
    before, after = old.get("spec") or {}, new.get("spec") or {}
    if kind == "Pod":
        def without_images(spec: dict[str, Any]) -> dict[str, Any]:
            spec = copy.deepcopy(spec)
            for c in spec.get("containers") or []:
                c.pop("image", None)
            if "nodeName" not in after:  # the scheduler's, not the applier's: a re-apply leaves it alone
                spec.pop("nodeName", None)
            return spec
        if without_images(before) != without_images(after):
            return (f'Pod "{name}" is invalid: spec: Forbidden: pod updates may not change fields other than '
                    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                    "`spec.tolerations` (only additions to existing tolerations),"
                    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")
    if kind == "Service" and before.get("clusterIP") and after.get("clusterIP") not in (None, before.get("clusterIP")):
        return (f'Service "{name}" is invalid: spec.clusterIPs[0]: Invalid value: []string{{"{after["clusterIP"]}"}}: '
                "may not change once set")
    if kind == "StatefulSet":
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        if changed - {"replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
                      "minReadySeconds", "revisionHistoryLimit"}:
            return (f'StatefulSet.apps "{name}" is invalid: spec: Forbidden: updates to statefulset spec for fields '
                    "other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
                    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
    if kind in ("Deployment", "DaemonSet") and "selector" in after and before.get("selector") != after.get("selector"):
        return (f'{kind}.apps "{name}" is invalid: spec.selector: Invalid value: '
                f'v1.LabelSelector{{MatchLabels:{after.get("selector")}}}: field is immutable')
    return None


def _matches(obj: dict[str, Any], selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        k, _, v = term.partition("=")
        if labels.get(k) != v:
            return False
    return True


def kubelet(api):
    """Make applied pods Running and Ready with an IP, as the kubelet and the CNI would."""
    counter = iter(range(10, 250))

    def on_apply(obj):
        if obj["kind"] == "Pod":
            obj["spec"]["nodeName"] = "course-worker"
            obj["status"] = {"phase": "Running", "podIP": f"10.244.1.{next(counter)}",
                             "conditions": [{"type": "Ready", "status": "True"}]}

    api.on_apply = on_apply


class FakeTime:
    """An injected clock: sleep() moves it on at once and records each pause, so tests assert on the
    pauses the code chose, never on how long the machine took."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
