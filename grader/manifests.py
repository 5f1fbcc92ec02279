"""Load Kubernetes manifests from files and check them the way the API server would, with file:line errors.

`load(paths)` reads files and directories (recursively: *.yaml, *.yml, *.json, sorted, hidden
directories skipped), splits multi-document YAML, expands `kind: List`, fills in the namespace of
namespaced objects, and validates every object. It collects every problem of the load and raises one
`ManifestErrors` with all of them, so a learner sees everything at once; each names file:line and
says what to fix.

Safety: only plain YAML data (yaml.SafeLoader), files larger than MAX_FILE_BYTES are refused before
they are read, aliases that expand a document by more than MAX_ALIAS_EXPANSION nodes ("billion
laughs") are refused before anything is expanded, and binary or non-UTF-8 files are refused.

Schema and type checks use the API's own JSON schemas for the pinned Kubernetes version (grader.schema:
kubernetes-validate's strict schemas, compiled once and cached; they reject unknown fields like
`kubectl apply --validate=strict`). The schemas do not check value ranges, names, enums or cross-field
rules, so those the course relies on (ports, selectors, Service types, NetworkPolicy peers, Ingress paths,
TLS Secrets...) are checked here.
"""

from __future__ import annotations

from grader import schema
from grader.errors import GradeError

import base64
import binascii
import difflib
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.model.gateway.validation import gateway_api_problems
from grader.model.objects import NODEPORT_RANGE, SERVICE_CIDR, Source
from grader.model.names import is_port_name
from grader.model.policy import dotted, policy_problems
from grader.model.selectors import SelectorError, matches, validate_selector

MAX_FILE_BYTES = 1_000_000
# Nodes that YAML aliases may add to one document beyond its own size; real manifests need very few.
MAX_ALIAS_EXPANSION = 100_000
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

# kind -> (accepted apiVersions, namespaced?, checked against the API's schema of the pinned version?)
_KINDS: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    "Pod": (("v1",), True, True),
    "Service": (("v1",), True, True),
    "Endpoints": (("v1",), True, True),
    "ConfigMap": (("v1",), True, True),
    "Secret": (("v1",), True, True),
    "ServiceAccount": (("v1",), True, True),
    "ResourceQuota": (("v1",), True, True),
    "LimitRange": (("v1",), True, True),
    "PersistentVolumeClaim": (("v1",), True, True),
    "Namespace": (("v1",), False, True),
    "PersistentVolume": (("v1",), False, True),
    "Deployment": (("apps/v1",), True, True),
    "ReplicaSet": (("apps/v1",), True, True),
    "StatefulSet": (("apps/v1",), True, True),
    "DaemonSet": (("apps/v1",), True, True),
    "Job": (("batch/v1",), True, True),
    "CronJob": (("batch/v1",), True, True),
    "EndpointSlice": (("discovery.k8s.io/v1",), True, True),
    "NetworkPolicy": (("networking.k8s.io/v1",), True, True),
    "Ingress": (("networking.k8s.io/v1",), True, True),
    "IngressClass": (("networking.k8s.io/v1",), False, True),
    "Role": (("rbac.authorization.k8s.io/v1",), True, True),
    "RoleBinding": (("rbac.authorization.k8s.io/v1",), True, True),
    "ClusterRole": (("rbac.authorization.k8s.io/v1",), False, True),
    "ClusterRoleBinding": (("rbac.authorization.k8s.io/v1",), False, True),
    "CustomResourceDefinition": (("apiextensions.k8s.io/v1",), False, True),
    "ValidatingWebhookConfiguration": (("admissionregistration.k8s.io/v1",), False, True),
    "MutatingWebhookConfiguration": (("admissionregistration.k8s.io/v1",), False, True),
    "PodDisruptionBudget": (("policy/v1",), True, True),
    "HorizontalPodAutoscaler": (("autoscaling/v2", "autoscaling/v1"), True, False),
    "StorageClass": (("storage.k8s.io/v1",), False, True),
    "PriorityClass": (("scheduling.k8s.io/v1",), False, True),
    # Gateway API: CRDs (installed by cloud-provider-kind), not in the core API's schemas; v1beta1 is still served.
    "GatewayClass": (("gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"), False, False),
    "Gateway": (("gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"), True, False),
    "HTTPRoute": (("gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"), True, False),
    "GRPCRoute": (("gateway.networking.k8s.io/v1",), True, False),
    "ReferenceGrant": (("gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1"), True, False),
}

NAMESPACED_KINDS = frozenset(k for k, (_, namespaced, _m) in _KINDS.items() if namespaced)
CLUSTER_KINDS = frozenset(k for k, (_, namespaced, _m) in _KINDS.items() if not namespaced)
KNOWN_KINDS = NAMESPACED_KINDS | CLUSTER_KINDS

# apiVersions that once served a kind and were removed: (kind, apiVersion) -> Kubernetes release.
_REMOVED_VERSIONS = {
    ("Ingress", "extensions/v1beta1"): "1.22",
    ("Ingress", "networking.k8s.io/v1beta1"): "1.22",
    ("IngressClass", "networking.k8s.io/v1beta1"): "1.22",
    ("NetworkPolicy", "extensions/v1beta1"): "1.16",
    ("Deployment", "extensions/v1beta1"): "1.16",
    ("Deployment", "apps/v1beta1"): "1.16",
    ("Deployment", "apps/v1beta2"): "1.16",
    ("DaemonSet", "extensions/v1beta1"): "1.16",
    ("DaemonSet", "apps/v1beta2"): "1.16",
    ("ReplicaSet", "extensions/v1beta1"): "1.16",
    ("ReplicaSet", "apps/v1beta2"): "1.16",
    ("StatefulSet", "apps/v1beta1"): "1.16",
    ("StatefulSet", "apps/v1beta2"): "1.16",
    ("CronJob", "batch/v1beta1"): "1.25",
    ("EndpointSlice", "discovery.k8s.io/v1beta1"): "1.25",
    ("PodDisruptionBudget", "policy/v1beta1"): "1.25",
    ("CustomResourceDefinition", "apiextensions.k8s.io/v1beta1"): "1.22",
}

_POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")
_PROTOCOLS = ("TCP", "UDP", "SCTP")
_SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
_PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")
_PORT_NUMBER_FIELDS = frozenset({"containerPort", "port", "nodePort", "hostPort", "number", "endPort"})

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


class ManifestError(GradeError):
    """A problem in a learner's manifest: what is wrong, where (file:line) and what to do next."""

    def __init__(self, message: str, source: Source | None = None, fix: str | None = None):
        self.message = message
        self.source = source
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.source}: {self.message}" if self.source else self.message
        return text + (f"\n  fix: {self.fix}" if self.fix else "")


class ManifestErrors(ManifestError):
    """Several problems found in one load; `.errors` lists them in file and line order."""

    def __init__(self, errors: list[ManifestError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


@dataclass
class Manifest:
    """One Kubernetes object as loaded: its dict and where it came from."""

    obj: dict
    source: Source

    @property
    def kind(self) -> str:
        return self.obj.get("kind", "")

    @property
    def api_version(self) -> str:
        return self.obj.get("apiVersion", "")

    @property
    def name(self) -> str:
        return (self.obj.get("metadata") or {}).get("name", "")

    @property
    def namespace(self) -> str | None:
        """The namespace, or None for cluster-scoped kinds (metadata.namespace is ignored for those)."""
        if self.kind in CLUSTER_KINDS:
            return None
        return (self.obj.get("metadata") or {}).get("namespace")

    @property
    def key(self) -> str:
        """"Kind ns/name", or "Kind name" for cluster-scoped objects."""
        ns = self.namespace
        return f"{self.kind} {ns}/{self.name}" if ns else f"{self.kind} {self.name}"


# --------------------------------------------------------------------------------------------- reading


def load(paths: Iterable[str | Path], namespace: str = "default") -> list[Manifest]:
    """Load and validate every manifest in these files and directories.

    Objects come back in file order (directories sorted), then document order. Raises ManifestErrors
    listing every problem found when there is at least one.
    """
    errors: list[ManifestError] = []
    docs: list[_Doc] = []
    files: list[str] = []
    for file in _manifest_files(paths, errors):
        files.append(str(file))
        text = _read_text(file, errors)
        if text is not None:
            docs.extend(_parse_text(text, str(file), errors, is_json=file.suffix.lower() == ".json"))
    return _finish(docs, errors, namespace, files)


def load_text(text: str, filename: str = "<string>", namespace: str = "default") -> list[Manifest]:
    """Load and validate manifests given as text (YAML or JSON); `filename` is used in messages."""
    errors: list[ManifestError] = []
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ManifestErrors([_too_big(filename)])
    if "\x00" in text:
        raise ManifestErrors([_binary(filename)])
    docs = _parse_text(text, filename, errors, is_json=filename.lower().endswith(".json"))
    return _finish(docs, errors, namespace, [filename])


def _finish(docs: list[_Doc], errors: list[ManifestError], namespace: str, files: list[str]) -> list[Manifest]:
    manifests = _validate(docs, errors, namespace)
    if errors:
        order = {name: i for i, name in enumerate(files)}
        errors.sort(key=lambda e: (order.get(e.source.file, -1), e.source.line) if e.source else (-2, 0))
        raise ManifestErrors(errors)
    return manifests


def _manifest_files(paths: Iterable[str | Path], errors: list[ManifestError]) -> Iterator[Path]:
    if isinstance(paths, (str, Path)):  # a single path is a common slip; accept it
        paths = [paths]
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(
                    Path(root) / f for f in sorted(files)
                    if f.lower().endswith(MANIFEST_SUFFIXES) and not f.startswith(".")
                )
            if not found:
                errors.append(ManifestError(
                    f"{path}: no manifest files (*.yaml, *.yml, *.json) in this directory",
                    fix="check the path; hidden directories (.name) are skipped",
                ))
            yield from sorted(found)
        elif path.is_file():
            yield path
        elif path.exists():
            errors.append(ManifestError(f"{path}: not a regular file", fix="pass a manifest file or a directory"))
        else:
            errors.append(ManifestError(f"{path}: no such file or directory", fix="check the path and its spelling"))


def _too_big(name: str) -> ManifestError:
    return ManifestError(
        f"{name}: file is larger than the {MAX_FILE_BYTES:,}-byte limit for manifests",
        fix="split it into smaller files; course manifests are a few kilobytes",
    )


def _binary(name: str) -> ManifestError:
    return ManifestError(
        f"{name}: this is a binary file (it contains NUL bytes), not YAML or JSON text",
        fix="pass only manifest files (*.yaml, *.yml, *.json)",
    )


def _read_text(file: Path, errors: list[ManifestError]) -> str | None:
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            errors.append(_too_big(str(file)))
            return None
        with file.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        errors.append(ManifestError(f"{file}: cannot read it: {e.strerror or e}"))
        return None
    if len(data) > MAX_FILE_BYTES:
        errors.append(_too_big(str(file)))
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        errors.append(ManifestError(
            f"{file}: the file is saved as UTF-16, not UTF-8",
            fix="save it as UTF-8 (PowerShell: Out-File -Encoding utf8, or change the encoding in your editor)",
        ))
        return None
    if b"\x00" in data:
        errors.append(_binary(str(file)))
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        errors.append(ManifestError(
            f"the file is not valid UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded)",
            Source(str(file), 0, line),
            fix="save the file as UTF-8 in your editor",
        ))
        return None


# --------------------------------------------------------------------------------------------- parsing


class _Loader(yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader that keeps timestamps as strings, as the API server's JSON does."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


@dataclass
class _Doc:
    obj: Any
    node: yaml.Node | None
    source: Source


def _parse_text(text: str, filename: str, errors: list[ManifestError], is_json: bool = False) -> list[_Doc]:
    if is_json:
        return _parse_json(text, filename, errors)
    docs: list[_Doc] = []
    loader = _Loader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            doc_index = index
            index += 1
            if node is None:
                continue
            if not _check_node_tree(node, filename, doc_index, errors):
                continue
            data = loader.construct_document(node)
            docs.extend(_split_document(data, node, filename, doc_index, errors))
    except yaml.MarkedYAMLError as e:
        errors.append(_syntax_error(e, text, filename, index))
    except yaml.YAMLError as e:
        errors.append(ManifestError(f"YAML error: {e}", Source(filename, index, 1)))
    except RecursionError:
        errors.append(ManifestError(
            "the YAML is nested too deeply to be a manifest", Source(filename, index, 1),
            fix="check for runaway brackets or indentation",
        ))
    finally:
        loader.dispose()
    return docs


def _parse_json(text: str, filename: str, errors: list[ManifestError]) -> list[_Doc]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        errors.append(ManifestError(
            f"JSON syntax error: {e.msg} (column {e.colno})", Source(filename, 0, e.lineno),
            fix="a missing or extra comma, quote or bracket just before this point is the usual cause",
        ))
        return []
    except RecursionError:
        errors.append(ManifestError("the JSON is nested too deeply to be a manifest", Source(filename, 0, 1)))
        return []
    node = None
    try:  # only for line numbers: JSON may use tabs, which YAML refuses but JSON allows outside strings
        node = yaml.compose(text.replace("\t", " "), Loader=_Loader)
    except (yaml.YAMLError, RecursionError):
        node = None
    return _split_document(data, node, filename, 0, errors)


def _check_node_tree(root: yaml.Node, filename: str, doc: int, errors: list[ManifestError]) -> bool:
    """Reject alias bombs and recursive aliases before expanding anything; report duplicate keys."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            on_path.discard(nid)
            children = _children(node)
            sizes[nid] = 1 + sum(sizes[id(c)] for c in children)
            continue
        if nid in sizes:
            continue
        if nid in on_path:
            errors.append(ManifestError(
                "a YAML alias refers to the node that contains it (a recursive structure)",
                Source(filename, doc, node.start_mark.line + 1),
                fix="Kubernetes objects cannot be recursive; remove the alias (*name)",
            ))
            return False
        distinct += 1
        on_path.add(nid)
        stack.append((node, True))
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, _value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        errors.append(ManifestError(
                            f"key {key.value!r} appears twice in the same mapping (first on line {seen[key.value]})",
                            Source(filename, doc, line),
                            fix="keep one of them; kubectl refuses duplicate keys (merge their contents if both matter)",
                        ))
                    else:
                        seen[key.value] = line
        for child in _children(node):
            if id(child) in on_path:
                errors.append(ManifestError(
                    "a YAML alias refers to the node that contains it (a recursive structure)",
                    Source(filename, doc, child.start_mark.line + 1),
                    fix="Kubernetes objects cannot be recursive; remove the alias (*name)",
                ))
                return False
            if id(child) not in sizes:
                stack.append((child, False))
    if sizes[id(root)] - distinct > MAX_ALIAS_EXPANSION:
        errors.append(ManifestError(
            f"YAML aliases (*name) expand this document to {sizes[id(root)]:,} nodes, more than "
            f"{MAX_ALIAS_EXPANSION:,} beyond its own size: this looks like a \"billion laughs\" attack",
            Source(filename, doc, root.start_mark.line + 1),
            fix="write the objects out without nested anchors and aliases",
        ))
        return False
    return True


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _syntax_error(e: yaml.MarkedYAMLError, text: str, filename: str, doc: int) -> ManifestError:
    mark = e.problem_mark or e.context_mark
    line = mark.line + 1 if mark else 1
    lines = text.splitlines()
    line_text = lines[line - 1] if 0 < line <= len(lines) else ""
    problem = e.problem or e.context or "invalid YAML"
    message = f"YAML syntax error: {problem}"
    if mark:
        message += f" (column {mark.column + 1})"
    if e.context and e.problem and e.context_mark and e.context_mark.line + 1 != line:
        message += f", {e.context} on line {e.context_mark.line + 1}"
    if line_text.strip():
        shown = line_text.rstrip()
        message += f"\n    {shown[:120]}" + (" ..." if len(shown) > 120 else "")
    return ManifestError(message, Source(filename, doc, line), fix=_syntax_hint(problem, text, line))


def _syntax_hint(problem: str, text: str, line: int) -> str:
    lines = text.splitlines()
    nearby = lines[max(0, line - 2): line + 1]
    if "\t" in problem or any(ln[: len(ln) - len(ln.lstrip())].count("\t") for ln in nearby):
        return "YAML does not allow tabs for indentation: indent with spaces only"
    if "mapping values are not allowed" in problem:
        return ("check the indentation of this line against the line above, and that every 'key:' is followed "
                "by a space; a value that itself contains ': ' must be quoted")
    if "could not find expected ':'" in problem:
        return "a 'key: value' line is missing its colon, or a multi-line value is indented wrongly"
    if "expected <block end>" in problem or "did not find expected key" in problem:
        return "this line is indented differently from the keys next to it: align items at the same level"
    if "nesting depth" in problem:
        return "the document is nested far too deeply to be a manifest: look for runaway brackets"
    if "did not find expected ',' or" in problem:
        return "a flow collection ({...} or [...]) is not closed, or two of its items lack a ',' between them"
    if "found undefined alias" in problem:
        return "an alias (*name) needs a matching anchor (&name) earlier in the same document"
    if "did not find expected '-' indicator" in problem:
        return "items of a list start with '- ' at the same indentation"
    if "found unexpected end of stream" in problem or "found unexpected ':'" in problem:
        return "a quote or bracket is not closed: check quotes (' or \") and brackets on this line and the one above"
    return "check the indentation and the quoting on this line and the one above"


def _split_document(data: Any, node: yaml.Node | None, filename: str, doc: int, errors: list[ManifestError]) -> list[_Doc]:
    """One document -> objects; `kind: List` gives one object per item, each with its own line."""
    if data is None:
        return []
    line = node.start_mark.line + 1 if node is not None else 1
    if not isinstance(data, dict):
        fix = "a manifest document is a mapping with apiVersion:, kind: and metadata:"
        if isinstance(data, list):
            fix += "; remove the leading '- ', or put the objects in a `kind: List` under items:"
        errors.append(ManifestError(
            f"document {doc + 1} is a {_type_name(data)}, not a Kubernetes object", Source(filename, doc, line), fix=fix
        ))
        return []
    if data.get("kind") == "List" and "items" in data:
        items = data["items"]
        items_node = _child_node(node, "items")
        if not isinstance(items, list):
            errors.append(ManifestError(
                "items of a List must be a list of objects", Source(filename, doc, _line(items_node, line)),
                fix="write each object as a '- ' item under items:",
            ))
            return []
        out = []
        for i, item in enumerate(items):
            item_node = _child_node(items_node, i)
            item_line = _line(item_node, line)
            if not isinstance(item, dict):
                errors.append(ManifestError(
                    f"List item {i} is a {_type_name(item)}, not a Kubernetes object", Source(filename, doc, item_line)
                ))
                continue
            out.append(_Doc(item, item_node, Source(filename, doc, item_line)))
        return out
    return [_Doc(data, node, Source(filename, doc, line))]


def _child_node(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key]
    return None


def _key_node(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k
    return None


def _line(node: yaml.Node | None, default: int) -> int:
    return node.start_mark.line + 1 if node is not None else default


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------------------------- validation


class _Checker:
    """Validation of one object; `error(path, ...)` puts the line of that field into the message."""

    def __init__(self, doc: _Doc, key: str, errors: list[ManifestError]):
        self.doc = doc
        self.key = key
        self.errors = errors

    def line(self, path: tuple[str | int, ...]) -> int:
        """Line of the field at `path` (its key), or of its nearest existing parent."""
        node = self.doc.node
        best = self.doc.source.line
        for i, part in enumerate(path):
            if node is None:
                break
            if isinstance(part, str):
                key = _key_node(node, part)
                if key is None:
                    break
                best = key.start_mark.line + 1
            node = _child_node(node, part)
            if isinstance(part, int) and node is not None:
                best = node.start_mark.line + 1
        return best

    def raw(self, path: tuple[str | int, ...]) -> str | None:
        """The text of the scalar at `path` as written in the file (e.g. `yes` for a boolean), if known."""
        node = self.doc.node
        for part in path:
            node = _child_node(node, part)
        return node.value if isinstance(node, yaml.ScalarNode) else None

    def error(self, path: tuple[str | int, ...], message: str, fix: str | None = None, show_path: bool = True) -> None:
        where = f"{dotted(path)}: " if path and show_path else ""
        source = Source(self.doc.source.file, self.doc.source.doc, self.line(path))
        self.errors.append(ManifestError(f"{self.key}: {where}{message}", source, fix))


def _get(obj: Any, path: Iterable[str | int]) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or not 0 <= part < len(obj):
                return None
        elif not isinstance(obj, dict):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


def _validate(docs: list[_Doc], errors: list[ManifestError], namespace: str) -> list[Manifest]:
    custom = _custom_kinds(docs)
    if not _DNS1123_LABEL.match(namespace or ""):
        errors.append(ManifestError(f"namespace {namespace!r} is not a valid namespace name",
                                    fix="use lowercase letters, digits and '-'"))
    manifests: list[Manifest] = []
    seen: dict[tuple[str, str | None, str], Source] = {}
    cluster_ips: dict[str, str] = {}
    node_ports: dict[tuple[int, str], str] = {}
    for doc in docs:
        obj = doc.obj
        kind = obj.get("kind")
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if not _check_identity(doc, custom, errors):
            continue
        namespaced = kind in NAMESPACED_KINDS if kind in KNOWN_KINDS else custom[(obj["apiVersion"], kind)]
        if namespaced and not meta.get("namespace"):
            meta["namespace"] = namespace
        ns = meta.get("namespace") if namespaced else None
        label = f"{kind} {ns}/{name}" if ns else f"{kind} {name}"
        check = _Checker(doc, label, errors)
        ident = (kind, ns, name)
        if ident in seen:
            first = seen[ident]
            check.error(("metadata", "name"), f"defined twice: here and at {first}",
                        fix="rename one or delete the copy (kubectl apply would keep only the last one)")
        else:
            seen[ident] = doc.source
        _check_object(check, obj, kind)
        if kind == "Service" and isinstance(obj.get("spec"), dict):
            _check_service_allocations(check, obj["spec"], cluster_ips, node_ports)
        manifests.append(Manifest(obj, doc.source))
    return manifests


def _custom_kinds(docs: list[_Doc]) -> dict[tuple[str, str], bool]:
    """(apiVersion, kind) -> namespaced, for kinds defined by CustomResourceDefinitions in this load."""
    out: dict[tuple[str, str], bool] = {}
    for doc in docs:
        obj = doc.obj
        if obj.get("kind") != "CustomResourceDefinition" or not isinstance(obj.get("spec"), dict):
            continue
        spec = obj["spec"]
        kind = _get(spec, ("names", "kind"))
        group = spec.get("group")
        if not isinstance(kind, str) or not isinstance(group, str):
            continue
        for version in spec.get("versions") or []:
            if isinstance(version, dict) and isinstance(version.get("name"), str):
                out[(f"{group}/{version['name']}", kind)] = spec.get("scope", "Namespaced") != "Cluster"
    return out


def _check_identity(doc: _Doc, custom: dict[tuple[str, str], bool], errors: list[ManifestError]) -> bool:
    """apiVersion, kind and metadata.name present and known; False when the object cannot be checked further."""
    obj = doc.obj
    probe = _Checker(doc, _short_key(obj), errors)
    ok = True
    api_version, kind, meta = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
    if api_version is None and kind is None and meta is None:
        errors.append(ManifestError(
            "this document is not a Kubernetes object: it has no apiVersion, kind or metadata", doc.source,
            fix="start each object with apiVersion:, kind: and metadata: (name: ...); separate objects with ---",
        ))
        return False
    if not isinstance(api_version, str) or not api_version:
        probe.error(("apiVersion",), "apiVersion is missing" if api_version is None else "apiVersion must be a string",
                    show_path=False, fix=f"add apiVersion: {_KINDS[kind][0][0] if kind in _KINDS else '<group>/<version>'}")
        ok = False
    if not isinstance(kind, str) or not kind:
        probe.error(("kind",), "kind is missing" if kind is None else "kind must be a string", show_path=False,
                    fix="add kind: (for example Deployment, Service, NetworkPolicy)")
        ok = False
    if not isinstance(meta, dict):
        probe.error(("metadata",), "metadata is missing" if meta is None else "metadata must be a mapping",
                    show_path=False, fix="add metadata: with name: <object name>")
        return False
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        probe.error(("metadata", "name"), "metadata.name is missing" if name is None else "metadata.name must be a string",
                    show_path=False, fix="add name: <object name> under metadata:")
        ok = False
    if not ok:
        return False
    if kind in _KINDS:
        versions = _KINDS[kind][0]
        if api_version not in versions:
            removed = _REMOVED_VERSIONS.get((kind, api_version))
            why = f"was removed in Kubernetes {removed}" if removed else "is not a version this kind is served in"
            probe.error(("apiVersion",), f"apiVersion {api_version} for {kind} {why}", show_path=False,
                        fix=f"use apiVersion: {versions[0]}" + _migration_note(kind, api_version))
            return False
        return True
    if (api_version, kind) in custom:
        return True
    suggestion = _suggest(kind, KNOWN_KINDS | {k for _, k in custom})
    fix = f"did you mean {suggestion}?" if suggestion else (
        "check the spelling (kinds are singular CamelCase, e.g. NetworkPolicy), or include the "
        "CustomResourceDefinition that defines it")
    probe.error(("kind",), f"unknown kind {kind!r} (apiVersion {api_version})", fix=fix, show_path=False)
    return False


def _short_key(obj: dict) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") if isinstance(meta.get("name"), str) else "<no name>"
    return f"{obj.get('kind') if isinstance(obj.get('kind'), str) else '<no kind>'} {name}"


def _migration_note(kind: str, api_version: str) -> str:
    if kind == "Ingress" and "beta" in api_version:
        return " (and write each backend as service: {name: ..., port: {number: ...}}, with a pathType on every path)"
    if kind in _WORKLOAD_KINDS and "beta" in api_version:
        return " (apps/v1 requires spec.selector matching the template's labels)"
    return ""


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    choices = sorted(choices)
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [lowered[m] for m in difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)]
    return close[0] if close else None


def _check_object(check: _Checker, obj: dict, kind: str) -> None:
    _check_metadata(check, obj["metadata"], kind)
    if kind in _KINDS and _KINDS[kind][2]:
        _check_schema(check, obj)
    if kind in _POD_SPEC_PATHS:
        _check_pod_spec(check, _POD_SPEC_PATHS[kind], kind)
    if kind in _WORKLOAD_KINDS or kind == "Job":
        _check_workload_selector(check, obj, kind)
    {"Service": _check_service, "NetworkPolicy": _check_network_policy, "Ingress": _check_ingress,
     "Secret": _check_secret}.get(kind, lambda c, o: None)(check, obj)
    # Gateway API kinds have no client models: their CRD schema and CEL rules live in the model.
    for path, message, fix in gateway_api_problems(obj):
        check.error(path, message, fix=fix)


def _check_metadata(check: _Checker, meta: dict, kind: str) -> None:
    name = meta["name"]
    if kind == "Service":
        if not _DNS1035_LABEL.match(name) or len(name) > 63:
            check.error(("metadata", "name"), f"{name!r} is not a valid Service name",
                        fix="use at most 63 lowercase letters, digits and '-', starting with a letter (it becomes a DNS name)")
    elif kind == "Namespace":
        if not _DNS1123_LABEL.match(name) or len(name) > 63:
            check.error(("metadata", "name"), f"{name!r} is not a valid Namespace name",
                        fix="use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit")
    elif kind in _POD_SPEC_PATHS or kind in ("ConfigMap", "Secret", "NetworkPolicy", "Ingress", "IngressClass",
                                             "ServiceAccount", "EndpointSlice", "PersistentVolumeClaim"):
        if not _DNS1123_SUBDOMAIN.match(name) or len(name) > 253:
            check.error(("metadata", "name"), f"{name!r} is not a valid {kind} name",
                        fix="use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit")
    ns = meta.get("namespace")
    if ns is not None and (not isinstance(ns, str) or not _DNS1123_LABEL.match(ns) or len(ns) > 63):
        check.error(("metadata", "namespace"), f"{ns!r} is not a valid namespace name",
                    fix="use lowercase letters, digits and '-'")
    _check_labels(check, ("metadata", "labels"), meta.get("labels"))


def _check_labels(check: _Checker, path: tuple[str | int, ...], labels: Any) -> None:
    if not isinstance(labels, dict):
        return  # type errors come from the schema check
    for key, value in labels.items():
        if not isinstance(key, str):
            continue
        prefix, _, name = key.rpartition("/")
        if (prefix and (not _DNS1123_SUBDOMAIN.match(prefix) or len(prefix) > 253)) or not _LABEL_NAME.match(name) \
                or len(name) > 63:
            check.error(path + (key,), f"{key!r} is not a valid label key",
                        fix="use an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.'")
        if isinstance(value, str) and value and (not _LABEL_NAME.match(value) or len(value) > 63):
            check.error(path + (key,), f"label value {value!r} is not valid",
                        fix="label values are at most 63 letters, digits, '-', '_' or '.', starting and ending "
                            "with a letter or digit (no spaces, no '/')")


def _check_schema(check: _Checker, obj: dict) -> None:
    """Types, required and unknown fields, by the API's schema of this kind (grader.schema)."""
    reported: set[tuple] = set()
    for problem in schema.problems(obj, obj["kind"], obj["apiVersion"]):
        if problem.path in reported:
            continue
        reported.add(problem.path)
        message, fix = _explain_schema_problem(check, obj, problem)
        check.error(problem.path, message, fix)


def _explain_schema_problem(check: _Checker, obj: dict, problem: schema.SchemaProblem) -> tuple[str, str | None]:
    kind = obj.get("kind")
    path, value, expected = problem.path, problem.value, problem.expected
    field = path[-1] if path else ""
    shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) or value is None else _type_name(value)
    if problem.rule == "missing":
        hints = {
            "pathType": "add pathType: Prefix (or Exact, or ImplementationSpecific)",
            "containers": "add containers: with at least one '- name: ... image: ...'",
            "selector": "add selector: with matchLabels: equal to the template's labels",
            "template": "add template: with metadata.labels and spec.containers",
        }
        return f"required field {field!r} is missing", hints.get(field, f"add {field}:")
    if problem.rule == "unknown":
        if kind == "Ingress" and field in ("serviceName", "servicePort"):
            return (f"unknown field {field!r} (that is the removed extensions/v1beta1 form)",
                    "write backend: service: {name: <service>, port: {number: <port>}} (or port: {name: <port name>})")
        suggestion = _suggest(str(field), schema.fields_at(obj["kind"], obj["apiVersion"], path[:-1]))
        fix = f"did you mean {suggestion}?" if suggestion and suggestion != field else (
            "remove it, or check its indentation: it may belong one level up or down")
        return f"unknown field {field!r}", fix
    if kind == "Service" and path[:2] == ("spec", "selector") and len(path) >= 3 and isinstance(value, dict):
        return ("a Service selector is a plain map of labels, not a label selector with matchLabels:",
                "write selector: {app: web} directly under spec (no matchLabels:)")
    if "integer" in expected and field in _PORT_NUMBER_FIELDS | {"targetPort"}:
        fix = f"write {field}: {value}" if isinstance(value, str) and value.strip().isdigit() else \
            "use the port number, e.g. 8080"
        if field == "targetPort":
            fix += " (or the name of a container port, e.g. targetPort: http)"
        return (f"must be a number, or for targetPort the name of a container port; got {shown}",
                fix + ("; numbers go without quotes" if isinstance(value, str) else ""))
    if expected == ("integer",):
        return f"must be a whole number, got {shown}", "write a number without quotes"
    if expected == ("string",):
        if isinstance(value, bool):
            written = check.raw(path) or str(value).lower()
            return (f"must be a string, got the boolean {shown} (YAML reads yes/no/on/off/true/false as booleans)",
                    f'quote it: {field}: "{written}"')
        if isinstance(value, (int, float)):
            what = "label values are strings" if "labels" in path or "selector" in path or "matchLabels" in path \
                else "this field is a string"
            return f"must be a string, got the number {shown}", f'{what}: quote it, e.g. {field}: "{value}"'
        return f"must be a string, got a {_type_name(value)}", None
    if expected == ("array",):
        return (f"must be a list, got a {_type_name(value)}",
                "write each item on its own line starting with '- ' (or use [a, b])")
    if expected == ("object",):
        return (f"must be a mapping (key: value lines), got a {_type_name(value)}",
                "check the indentation: the fields of this object go on the lines below it, indented")
    if expected == ("boolean",):
        return f"must be true or false, got {shown}", None
    if expected == ("number",):
        return f"must be a number, got {shown}", "write a number without quotes"
    if set(expected) == {"string", "integer"}:
        return f"must be a number or a name, got {shown}", None
    if set(expected) == {"string", "number"}:
        return f"must be a quantity such as 500m, 1 or 64Mi, got {shown}", None
    return f"must be {' or '.join(expected) or 'something else'}, got {shown}", None


def _port_ok(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_port_number(check: _Checker, path: tuple, value: Any) -> None:
    if _is_int(value) and not _port_ok(value):
        check.error(path, f"port {value} is out of range", fix="ports are numbers from 1 to 65535")


def _check_port_name(check: _Checker, path: tuple, value: Any, what: str) -> None:
    if isinstance(value, str) and not is_port_name(value):
        hint = f" (a number goes without quotes: {value.strip()})" if value.strip().isdigit() else ""
        check.error(path, f"{what} {value!r} is not a valid port name{hint}",
                    fix="port names are at most 15 lowercase letters, digits and '-', with at least one letter")


def _check_protocol(check: _Checker, path: tuple, value: Any) -> None:
    if isinstance(value, str) and value not in _PROTOCOLS:
        check.error(path, f"unsupported protocol {value!r}",
                    fix=f"use one of {', '.join(_PROTOCOLS)} (upper case)")


def _check_pod_spec(check: _Checker, spec_path: tuple, kind: str) -> None:
    spec = _get(check.doc.obj, spec_path)
    if not isinstance(spec, dict):
        return
    for group in ("containers", "initContainers"):
        containers = spec.get(group)
        if not isinstance(containers, list):
            continue
        names: set[str] = set()
        for i, container in enumerate(containers):
            if not isinstance(container, dict):
                continue
            cpath = spec_path + (group, i)
            name = container.get("name")
            if isinstance(name, str):
                if not _DNS1123_LABEL.match(name):
                    check.error(cpath + ("name",), f"container name {name!r} is not valid",
                                fix="use lowercase letters, digits and '-'")
                if name in names:
                    check.error(cpath + ("name",), f"two containers are named {name!r}", fix="give each container its own name")
                names.add(name)
            if "image" not in container and group == "containers":
                check.error(cpath, "container has no image", fix="add image: (the course uses registry.k8s.io/e2e-test-images/agnhost)")
            ports = container.get("ports")
            if not isinstance(ports, list):
                continue
            for j, port in enumerate(ports):
                if not isinstance(port, dict):
                    continue
                ppath = cpath + ("ports", j)
                _check_port_number(check, ppath + ("containerPort",), port.get("containerPort"))
                _check_port_number(check, ppath + ("hostPort",), port.get("hostPort"))
                _check_port_name(check, ppath + ("name",), port.get("name"), "container port name")
                _check_protocol(check, ppath + ("protocol",), port.get("protocol"))
    _check_labels(check, spec_path[:-1] + ("metadata", "labels"), _get(check.doc.obj, spec_path[:-1] + ("metadata", "labels")))


def _check_workload_selector(check: _Checker, obj: dict, kind: str) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    selector = spec.get("selector")
    if selector is None:
        return  # "required" comes from the schema check; a Job generates its own selector
    try:
        validate_selector(selector)
    except SelectorError as e:
        check.error(("spec", "selector"), str(e))
        return
    if kind == "Job" and not spec.get("manualSelector"):
        return
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        check.error(("spec", "selector"), f"an empty selector is invalid for a {kind}",
                    fix="add matchLabels: with the labels of spec.template.metadata.labels")
        return
    labels = _get(spec, ("template", "metadata", "labels"))
    labels = labels if isinstance(labels, dict) else {}
    if not all(isinstance(v, str) for v in labels.values()):
        return  # the label type error is reported already
    if not matches(selector, labels):
        from grader.model.selectors import describe

        shown = ", ".join(f"{k}={v}" for k, v in labels.items()) or "none"
        check.error(("spec", "selector"), f"selector does not match template labels (selector: {describe(selector)}; "
                    f"template labels: {shown})",
                    fix="make spec.template.metadata.labels include every label of spec.selector.matchLabels")


def _check_service(check: _Checker, obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    svc_type = spec.get("type", "ClusterIP")
    if isinstance(svc_type, str) and svc_type not in _SERVICE_TYPES:
        check.error(("spec", "type"), f"unsupported Service type {svc_type!r}", fix=f"use one of {', '.join(_SERVICE_TYPES)}")
    if svc_type == "ExternalName" and not spec.get("externalName"):
        check.error(("spec", "type"), "an ExternalName Service needs spec.externalName", fix="add externalName: <dns name>")
    elif svc_type == "ExternalName" and isinstance(spec.get("externalName"), str):
        _check_external_name(check, spec["externalName"])
    for field in ("externalTrafficPolicy", "internalTrafficPolicy"):
        value = spec.get(field)
        if value is not None and value not in ("Cluster", "Local"):
            check.error(("spec", field), f"{field} {value!r} is not supported", fix="use Cluster (the default) or Local")
    if spec.get("externalTrafficPolicy") is not None and svc_type not in ("NodePort", "LoadBalancer"):
        check.error(("spec", "externalTrafficPolicy"), "externalTrafficPolicy may only be set for externally-accessible services",
                    fix="remove it, or use type NodePort or LoadBalancer")
    cluster_ip = spec.get("clusterIP")
    if isinstance(cluster_ip, str) and cluster_ip not in ("", "None"):
        try:
            inside = ipaddress.ip_address(cluster_ip) in ipaddress.ip_network(SERVICE_CIDR)
        except ValueError:
            inside = None
        if inside is None:
            check.error(("spec", "clusterIP"), f"{cluster_ip!r} is not an IP address", fix='use an IP or "None" (headless)')
        elif not inside:
            check.error(("spec", "clusterIP"), f"{cluster_ip} is not in the cluster's service range {SERVICE_CIDR}",
                        fix="remove clusterIP: to get one allocated, or pick one inside the range")
    if cluster_ip == "None" and svc_type in ("NodePort", "LoadBalancer"):
        check.error(("spec", "clusterIP"), f"clusterIP: None is not allowed for a {svc_type} Service",
                    fix="remove clusterIP: None, or use type ClusterIP for a headless Service")
    ports = spec.get("ports")
    if ports is None:
        if svc_type != "ExternalName" and cluster_ip != "None":
            check.error(("spec",), "a Service needs at least one port", fix="add ports: with - port: <number>")
        return
    if not isinstance(ports, list):
        return
    names: dict[str, int] = {}
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        path = ("spec", "ports", i)
        _check_port_number(check, path + ("port",), port.get("port"))
        target = port.get("targetPort")
        if _is_int(target):
            _check_port_number(check, path + ("targetPort",), target)
        else:
            _check_port_name(check, path + ("targetPort",), target, "targetPort")
        _check_protocol(check, path + ("protocol",), port.get("protocol"))
        node_port = port.get("nodePort")
        if _is_int(node_port) and node_port != 0:
            if svc_type not in ("NodePort", "LoadBalancer"):
                check.error(path + ("nodePort",), f"nodePort may not be used when type is {svc_type}",
                            fix="set type: NodePort, or remove nodePort:")
            elif not NODEPORT_RANGE[0] <= node_port <= NODEPORT_RANGE[1]:
                check.error(path + ("nodePort",), f"nodePort {node_port} is outside the valid range",
                            fix=f"use {NODEPORT_RANGE[0]}-{NODEPORT_RANGE[1]}, or remove nodePort: to get one allocated")
        name = port.get("name")
        if len(ports) > 1 and not name:
            check.error(path, "when a Service has several ports, each needs a name",
                        fix="add name: (e.g. http) to every port")
        if isinstance(name, str) and name:
            if not _DNS1123_LABEL.match(name):
                check.error(path + ("name",), f"port name {name!r} is not valid", fix="use lowercase letters, digits and '-'")
            if name in names:
                check.error(path + ("name",), f"port name {name!r} is used twice", fix="give each port its own name")
            names[name] = i


def _check_external_name(check: _Checker, name: str) -> None:
    """The API server takes spec.externalName as a DNS-1123 subdomain (a trailing dot allowed): a host name, nothing else."""
    bare = name[:-1] if name.endswith(".") else name
    if _DNS1123_SUBDOMAIN.match(bare) and len(bare) <= 253:
        return
    host = _host_part(name)
    example = host if host and _DNS1123_SUBDOMAIN.match(host) else "example.com"
    if "://" in name:
        why = "it has a URL scheme"
    elif "/" in name:
        why = "it has a path"
    elif re.search(r":\d*$", name):
        why = "it has a port (the port goes in spec.ports)"
    elif name != name.lower():
        why = "it has upper-case letters"
    elif len(bare) > 253:
        why = "it is longer than 253 characters"
    else:
        why = "it has characters other than lowercase letters, digits, '-' and '.'"
    check.error(("spec", "externalName"),
                f"{name!r} is not a DNS name: {why}; an ExternalName Service becomes a DNS CNAME, so it takes a host name only",
                fix=f"write the host name only, e.g. {example}")


def _host_part(text: str) -> str:
    """The host of a URL-like string ('https://Example.com:443/x' -> 'example.com')."""
    rest = text.split("://", 1)[1] if "://" in text else text
    rest = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if not rest.startswith("["):
        rest = rest.split(":", 1)[0]
    return rest.lower().rstrip(".")


def _check_service_allocations(check: _Checker, spec: dict, cluster_ips: dict[str, str], node_ports: dict) -> None:
    """Explicit clusterIPs and nodePorts must be unique (and not the ones the cluster itself holds)."""
    ip = spec.get("clusterIP")
    reserved = {"10.96.0.1": "Service default/kubernetes", "10.96.0.10": "Service kube-system/kube-dns"}
    if isinstance(ip, str) and ip not in ("", "None"):
        holder = cluster_ips.get(ip) or reserved.get(ip)
        if holder == check.key:
            holder = None  # the built-in Service itself, declared again: an update of the existing object, not a conflict
        elif check.key in reserved.values():
            kept = next(k for k, v in reserved.items() if v == check.key)
            check.error(("spec", "clusterIP"), f"spec.clusterIP is immutable: {check.key} keeps {kept}",
                        fix=f"write clusterIP: {kept}, or leave clusterIP out")
            holder = None
        if holder:
            check.error(("spec", "clusterIP"), f"clusterIP {ip} is already allocated to {holder}",
                        fix="remove clusterIP: to get a free one allocated")
        else:
            cluster_ips[ip] = check.key
    if spec.get("type") not in ("NodePort", "LoadBalancer"):
        return  # a nodePort there is rejected by itself and holds nothing
    for i, port in enumerate(spec.get("ports") or []):
        if isinstance(port, dict) and _is_int(port.get("nodePort")) and port["nodePort"]:
            slot = (port["nodePort"], port.get("protocol", "TCP"))
            if slot in node_ports:
                check.error(("spec", "ports", i, "nodePort"), f"nodePort {slot[0]} is already used by {node_ports[slot]}",
                            fix="pick another nodePort or remove it to get one allocated")
            else:
                node_ports[slot] = check.key


def _check_network_policy(check: _Checker, obj: dict) -> None:
    # One definition of NetworkPolicy validation, shared with the engine (which ignores invalid policies).
    for path, message in policy_problems(obj):
        check.error(path, message)


def _check_selector(check: _Checker, path: tuple, selector: Any) -> None:
    try:
        validate_selector(selector)
    except SelectorError as e:
        check.error(path, str(e))


def _check_ingress(check: _Checker, obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    backends: list[tuple[tuple, Any]] = [(("spec", "defaultBackend"), spec.get("defaultBackend"))]
    for i, rule in enumerate(spec.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        host = rule.get("host")
        if isinstance(host, str) and host:
            try:
                ipaddress.ip_address(host)
                check.error(("spec", "rules", i, "host"), "host must be a DNS name, not an IP address",
                            fix="remove host: to match every host, or use a name")
            except ValueError:
                if "*" in host[1:] or (host.startswith("*") and not host.startswith("*.")):
                    check.error(("spec", "rules", i, "host"), f"wildcard host {host!r} is not valid",
                                fix="a wildcard is only allowed as the whole first label: *.example.com")
        for j, path_rule in enumerate(_get(rule, ("http", "paths")) or []):
            if not isinstance(path_rule, dict):
                continue
            ppath = ("spec", "rules", i, "http", "paths", j)
            path_type = path_rule.get("pathType")
            if isinstance(path_type, str) and path_type not in _PATH_TYPES:
                check.error(ppath + ("pathType",), f"unsupported pathType {path_type!r}",
                            fix=f"use one of {', '.join(_PATH_TYPES)}")
            value = path_rule.get("path")
            if path_type in ("Exact", "Prefix") and isinstance(value, str) and not value.startswith("/"):
                check.error(ppath + ("path",), f"path {value!r} must be absolute", fix=f"write /{value}")
            backends.append((ppath + ("backend",), path_rule.get("backend")))
    for path, backend in backends:
        if not isinstance(backend, dict):
            continue
        port = _get(backend, ("service", "port"))
        if isinstance(port, dict):
            if ("number" in port) == ("name" in port):
                check.error(path + ("service", "port"), "a backend port needs exactly one of number: or name:",
                            fix="write port: {number: 80} or port: {name: http}")
            _check_port_number(check, path + ("service", "port", "number"), port.get("number"))
        if "service" not in backend and "resource" not in backend:
            check.error(path, "a backend needs service: (or resource:)", fix="write backend: service: {name: ..., port: {number: ...}}")


def _check_secret(check: _Checker, obj: dict) -> None:
    data = obj.get("data")
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, str):
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    check.error(("data", key), f"data[{key}] is not valid base64",
                                fix="encode the value (base64 -w0 file), or put plain text under stringData: instead")
    if obj.get("type") == "kubernetes.io/tls":
        present = set(data or {}) | set(obj.get("stringData") or {}) if isinstance(data or {}, dict) else set()
        for needed in ("tls.crt", "tls.key"):
            if needed not in present:
                check.error(("data",) if data else ("type",), f"a kubernetes.io/tls Secret needs data[{needed}]",
                            fix="create it with: kubectl create secret tls NAME --cert=... --key=... --dry-run=client -o yaml")
