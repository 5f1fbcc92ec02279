"""The Kubernetes API's JSON schemas for the course's pinned version, compiled once and cached.

The schemas are the ones kubernetes-validate ships (generated from the API server's OpenAPI document of
each release; the "strict" variant rejects unknown fields as `kubectl apply --validate=strict` does).
For each kind the grader meets, the first use writes two files to a cache folder:

- `<kind>.json`: the kind's schema with every definition it needs, and without the descriptions;
- `<kind>.<python>.marshal`: that schema compiled by fastjsonschema into plain Python, as bytecode.

Later runs load the compiled code (a few milliseconds) instead of building the kubernetes client's
~800 pydantic models (over a second). A valid object is checked by the compiled code alone; an invalid one
is checked again by jsonschema, which reports every problem with its path rather than only the first.

The cache folder is `$NETCOURSE_CACHE_DIR`, else `$XDG_CACHE_HOME/k8s-netcourse`, else
`~/.cache/k8s-netcourse`; its subfolder names the versions it was built from, so an upgrade of either
library or of the pinned Kubernetes version starts a fresh one. When it cannot be written the schemas are
compiled in memory on every run (slower, same answers).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import marshal
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from grader.cluster.versions import KUBECTL_VERSION

# Bump when the way schemas are prepared or compiled changes, so old caches are not reused.
_CACHE_FORMAT = "4"
_NOT_NULL = "-notnull"
_DROPPED_KEYS = ("description", "format", "$schema", "$id", "x-kubernetes-group-version-kind")


class SchemaUnavailable(RuntimeError):
    """The bundled schemas for the pinned Kubernetes version are missing: an installation problem of ours."""


@dataclass(frozen=True)
class SchemaProblem:
    """One way an object breaks its kind's schema.

    `rule` is "missing" (a required field), "unknown" (a field the kind does not have) or "type" (the
    value has the wrong type; `expected` lists the JSON types the schema accepts there, e.g. ("integer",)).
    `path` leads from the object to the field (for "missing" and "unknown": to the field itself).
    """

    path: tuple[str | int, ...]
    rule: str
    value: Any = None
    expected: tuple[str, ...] = ()


def kubernetes_version() -> str:
    """The pinned Kubernetes version whose API the schemas describe, e.g. "1.37.0"."""
    return KUBECTL_VERSION.lstrip("v")


def schema_name(kind: str, api_version: str) -> str:
    """kubernetes-validate's file name for a kind: Deployment apps/v1 -> deployment-apps-v1."""
    group, _, version = api_version.rpartition("/")
    return "-".join([kind.lower()] + ([group.split(".")[0]] if group else []) + [version])


def _package_dir(name: str) -> Path:
    # find_spec locates a package without importing it (kubernetes_validate's import pulls in jsonschema).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SchemaUnavailable(f"{name} is not installed: reinstall the course (python -m pip install -e .)")
    return Path(list(spec.submodule_search_locations)[0])


def _package_version(name: str, version_file: str) -> str:
    # Read from the package's own version module: importlib.metadata costs ~0.1 s of start-up.
    match = re.search(r"""['"]([^'"]+)['"]""", (_package_dir(name) / version_file).read_text(encoding="utf-8"))
    return match[1] if match else "unknown"


@lru_cache(maxsize=None)
def _source_dir() -> Path:
    source = _package_dir("kubernetes_validate") / "kubernetes-json-schema" / f"v{kubernetes_version()}-local-strict"
    if not (source / "_definitions.json").is_file():
        raise SchemaUnavailable(f"the installed kubernetes-validate has no schemas for Kubernetes {kubernetes_version()}: "
                                "install the version that pyproject.toml names")
    return source


@lru_cache(maxsize=None)
def cache_dir() -> Path:
    """The folder of compiled schemas for these library and Kubernetes versions."""
    base = os.environ.get("NETCOURSE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "k8s-netcourse")
    versions = "-".join([
        f"k8s{kubernetes_version()}", f"kv{_package_version('kubernetes_validate', 'version.py')}",
        f"fjs{_package_version('fastjsonschema', 'version.py')}", f"f{_CACHE_FORMAT}",
    ])
    return Path(base) / f"schemas-{versions}"


def _slim(node: Any) -> Any:
    """The schema without what validation never reads; int-or-string unions as anyOf.

    The strict schemas write IntOrString and Quantity as oneOf [string or null, integer or null], which a
    null (an empty `targetPort:`) matches twice and so fails; the API server reads a null as "not set".
    """
    if isinstance(node, dict):
        out = {k: _slim(v) for k, v in node.items() if k not in _DROPPED_KEYS and not k.startswith("x-kubernetes-")}
        if "oneOf" in out:
            out["anyOf"] = out.pop("oneOf")
        if isinstance(out.get("$ref"), str):
            out["$ref"] = "#/$defs/" + out["$ref"].rpartition("/")[2]
        return out
    if isinstance(node, list):
        return [_slim(v) for v in node]
    return node


def _build_schema(name: str) -> dict[str, Any]:
    source = _source_dir()
    path = source / f"{name}.json"
    if not path.is_file():
        raise SchemaUnavailable(f"no schema {name}.json for Kubernetes {kubernetes_version()}")
    root = _slim(json.loads(path.read_text(encoding="utf-8")))
    definitions = json.loads((source / "_definitions.json").read_text(encoding="utf-8"))["$defs"]
    needed: dict[str, Any] = {}
    todo = [root]
    while todo:  # only the definitions this kind reaches
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                key = ref.rpartition("/")[2]
                if key not in needed:
                    needed[key] = _slim(definitions[key])
                    todo.append(needed[key])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    root["$defs"] = needed
    _refuse_null_entries(root)
    root["$defs"] = dict(sorted(needed.items()))
    return root


def _refuse_null_entries(root: dict[str, Any]) -> None:
    """A null list item, map value or required field is an error; a null optional field stays "not set".

    The schemas allow null wherever a type appears, so `ports: [~]`, `data: {KEY: }` or `template:` would
    pass; the kubernetes client's models refused them (a dangling `- `, `KEY:` or section is a mistake) and
    so do we. Such an entry that refers to a definition gets a copy of it without null, named "<name>-notnull"
    (fastjsonschema names its functions after the letters and digits of a reference).
    """
    defs = root["$defs"]
    todo: list[Any] = [root]

    def strict(entry: Any) -> None:
        if not isinstance(entry, dict):
            return
        if isinstance(entry.get("type"), list):
            entry["type"] = [t for t in entry["type"] if t != "null"]
        ref = entry.get("$ref")
        if isinstance(ref, str) and not ref.endswith(_NOT_NULL):
            key = ref.rpartition("/")[2]
            if key + _NOT_NULL not in defs:
                defs[key + _NOT_NULL] = copy.deepcopy(defs[key])
                strict(defs[key + _NOT_NULL])
                todo.append(defs[key + _NOT_NULL])
            entry["$ref"] = ref + _NOT_NULL
        for branch in entry.get("anyOf", ()):
            strict(branch)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("items", "additionalProperties"):
                strict(node.get(key))
            if isinstance(node.get("properties"), dict):
                for key in node.get("required", ()):
                    strict(node["properties"].get(key))
            for value in list(node.values()):
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    while todo:
        walk(todo.pop())


def _write_atomically(path: Path, data: str | bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@lru_cache(maxsize=None)
def _schema(name: str) -> dict[str, Any]:
    cached = cache_dir() / f"{name}.json"
    try:
        return json.loads(cached.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    schema = _build_schema(name)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(cached, json.dumps(schema, separators=(",", ":")))
    except OSError:
        pass  # a read-only home: compile in memory each time
    return schema


@lru_cache(maxsize=None)
def _compiled(name: str) -> Callable[[Any], Any]:
    # The compiled code is kept as marshalled bytecode of this interpreter: Python's own __pycache__ is not
    # written under PYTHONDONTWRITEBYTECODE, and compiling a kind's 0.5 MB of source costs as much as building it.
    cached = cache_dir() / f"{name}.{sys.implementation.cache_tag}.marshal"
    code = None
    try:
        blob = cached.read_bytes()
        if blob[:16] == importlib.util.MAGIC_NUMBER.ljust(16, b"\0"):
            code = marshal.loads(blob[16:])
    except (OSError, ValueError, EOFError, TypeError):
        code = None
    if code is None:
        import fastjsonschema

        source = fastjsonschema.compile_to_code(_schema(name), use_default=False, use_formats=False,
                                                detailed_exceptions=False)
        code = compile(source, f"<schema {name}>", "exec")
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(cached, importlib.util.MAGIC_NUMBER.ljust(16, b"\0") + marshal.dumps(code))
        except OSError:
            pass  # a read-only home: compile in memory each time
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return namespace["validate"]


def has_schema(kind: str, api_version: str) -> bool:
    """Whether the pinned version's API has a schema for this kind and apiVersion."""
    return (_source_dir() / f"{schema_name(kind, api_version)}.json").is_file()


def problems(obj: dict[str, Any], kind: str, api_version: str) -> list[SchemaProblem]:
    """Every way `obj` breaks its kind's schema (empty when it is valid), in document order of paths."""
    name = schema_name(kind, api_version)
    from fastjsonschema import JsonSchemaValueException

    try:
        _compiled(name)(obj)
        return []
    except JsonSchemaValueException:
        pass
    return _all_problems(obj, _schema(name))


def _all_problems(obj: dict[str, Any], schema: dict[str, Any]) -> list[SchemaProblem]:
    import jsonschema

    out: list[SchemaProblem] = []
    for error in jsonschema.Draft202012Validator(schema).iter_errors(obj):
        path = tuple(error.absolute_path)
        if error.validator == "required":
            out += [SchemaProblem(path + (f,), "missing") for f in error.validator_value
                    if isinstance(error.instance, dict) and f not in error.instance]
        elif error.validator == "additionalProperties":
            known = error.schema.get("properties", {})
            out += [SchemaProblem(path + (f,), "unknown", error.instance[f]) for f in error.instance if f not in known]
        elif error.validator == "type":
            out.append(SchemaProblem(path, "type", error.instance, _types(error.validator_value)))
        elif error.validator in ("anyOf", "oneOf"):
            expected = tuple(t for branch in error.validator_value for t in _types(branch.get("type", ())))
            out.append(SchemaProblem(path, "type", error.instance, expected))
        else:  # enum of apiVersion/kind: checked, with better words, before the schema is looked at
            continue
    return out


def _types(value: Any) -> tuple[str, ...]:
    return tuple(t for t in ([value] if isinstance(value, str) else value) if t != "null")


def fields_at(kind: str, api_version: str, path: tuple[str | int, ...]) -> list[str]:
    """The field names the schema allows in the mapping at `path` of an object of this kind ([] if unknown)."""
    schema = _schema(schema_name(kind, api_version))
    node: Any = schema
    for part in path:
        node = _resolve(schema, node)
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part)
            if node is None:
                return []
    return sorted(_resolve(schema, node).get("properties", {}))


def _resolve(root: dict[str, Any], node: Any) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node:
        node = root["$defs"][re.sub(r"^#/\$defs/", "", node["$ref"])]
    return node if isinstance(node, dict) else {}
