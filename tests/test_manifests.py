"""Loading manifests: what a learner sees for good files, unsafe files and every kind of mistake."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader.manifests import (
    CLUSTER_KINDS,
    KNOWN_KINDS,
    MAX_FILE_BYTES,
    NAMESPACED_KINDS,
    _KINDS,
    ManifestError,
    ManifestErrors,
    load,
    load_text,
)

DATA = Path(__file__).parent / "data" / "manifests"

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: c
    image: agnhost
"""


def errors_of(text: str, filename: str = "t.yaml") -> list[ManifestError]:
    with pytest.raises(ManifestErrors) as info:
        load_text(textwrap.dedent(text), filename)
    return info.value.errors


def only_error(text: str, filename: str = "t.yaml") -> ManifestError:
    errors = errors_of(text, filename)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


# ----------------------------------------------------------------------------------------- reading files


def test_directory_is_read_recursively_sorted_skipping_hidden_dirs_and_other_files():
    manifests = load([DATA / "tree"])
    assert [m.key for m in manifests] == [
        "Deployment default/web",
        "Service default/web",
        "Namespace shop",
        "ConfigMap shop/settings",
        "NetworkPolicy default/deny-all",
    ]


def test_every_object_remembers_file_document_and_line():
    manifests = load([DATA / "tree"])
    by_key = {m.key: m.source for m in manifests}
    web = str(DATA / "tree" / "a-web.yaml")
    assert (by_key["Deployment default/web"].file, by_key["Deployment default/web"].doc) == (web, 0)
    assert by_key["Deployment default/web"].line == 2  # after the leading comment
    assert (by_key["Service default/web"].doc, by_key["Service default/web"].line) == (1, 20)


def test_list_items_are_expanded_each_with_its_own_line():
    manifests = load([DATA / "tree" / "sub" / "b-list.yml"])
    assert [(m.kind, m.source.line) for m in manifests] == [("Namespace", 4), ("ConfigMap", 9)]


def test_json_with_tab_indentation_loads():
    (policy,) = load([DATA / "tree" / "sub" / "c-policy.json"])
    assert policy.key == "NetworkPolicy default/deny-all"
    assert policy.obj["spec"] == {"podSelector": {}}


def test_json_syntax_error_names_the_line():
    error = only_error('{\n  "apiVersion": "v1",\n  "kind": "Pod"\n  "metadata": {}\n}\n', "p.json")
    assert str(error).startswith("p.json:4: JSON syntax error")


def test_empty_documents_are_skipped():
    text = "---\n---\n# only a comment\n---\n" + POD.format(name="a") + "---\n"
    (pod,) = load_text(text, "t.yaml")
    assert pod.source.doc == 2 and pod.source.line == 5  # 0-based: two empty documents before it


def test_namespace_defaults_for_namespaced_kinds_only():
    text = POD.format(name="a") + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
    pod, namespace = load_text(text, namespace="lesson4")
    assert pod.namespace == "lesson4" and pod.obj["metadata"]["namespace"] == "lesson4"
    assert pod.key == "Pod lesson4/a"
    assert namespace.namespace is None and "namespace" not in namespace.obj["metadata"]
    assert namespace.key == "Namespace shop"


def test_explicit_namespace_is_kept():
    (pod,) = load_text(POD.format(name="a").replace("  name: a", "  name: a\n  namespace: x"), namespace="y")
    assert pod.namespace == "x"


def test_kind_lists_cover_the_course():
    for kind in ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service",
                 "Endpoints", "EndpointSlice", "NetworkPolicy", "Ingress", "Secret", "ConfigMap", "ServiceAccount",
                 "Role", "RoleBinding", "ResourceQuota", "LimitRange", "Gateway", "HTTPRoute", "ReferenceGrant",
                 "PersistentVolumeClaim"):
        assert kind in NAMESPACED_KINDS
    for kind in ("Namespace", "IngressClass", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                 "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "GatewayClass"):
        assert kind in CLUSTER_KINDS
    assert KNOWN_KINDS == NAMESPACED_KINDS | CLUSTER_KINDS and not NAMESPACED_KINDS & CLUSTER_KINDS


def test_missing_path_and_empty_directory_are_reported(tmp_path):
    with pytest.raises(ManifestErrors) as info:
        load([tmp_path / "nope", tmp_path])
    text = str(info.value)
    assert f"{tmp_path / 'nope'}: no such file or directory" in text
    assert "no manifest files" in text


# ----------------------------------------------------------------------------------------- unsafe input


def test_billion_laughs_is_refused_before_expansion():
    with pytest.raises(ManifestErrors) as info:
        load([DATA / "bad" / "billion-laughs.yaml"])
    message = str(info.value)
    assert "billion-laughs.yaml:1:" in message and "billion laughs" in message and "aliases" in message


def test_recursive_alias_is_refused():
    error = only_error("a: &a\n  b: *a\n")
    assert "recursive" in str(error)


def test_a_few_small_aliases_are_fine():
    text = POD.format(name="a") + "  nodeSelector: &sel {disk: ssd}\n"
    (pod,) = load_text(text)
    assert pod.obj["spec"]["nodeSelector"] == {"disk": "ssd"}


def test_oversize_file_is_refused_naming_file_and_limit(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_FILE_BYTES + "\n")
    with pytest.raises(ManifestErrors) as info:
        load([big])
    assert str(info.value).startswith(f"{big}: file is larger than the 1,000,000-byte limit")


def test_oversize_text_is_refused():
    with pytest.raises(ManifestErrors, match="larger than the 1,000,000-byte limit"):
        load_text("#" * (MAX_FILE_BYTES + 1), "big.yaml")


def test_binary_file_is_refused():
    with pytest.raises(ManifestErrors) as info:
        load([DATA / "bad" / "image.yaml"])
    assert "binary file (it contains NUL bytes)" in str(info.value)


def test_non_utf8_file_is_refused_with_its_line():
    with pytest.raises(ManifestErrors) as info:
        load([DATA / "bad" / "latin1.yaml"])
    assert str(info.value).startswith(f"{DATA / 'bad' / 'latin1.yaml'}:3: the file is not valid UTF-8 text (byte 0xe9")
    assert "save the file as UTF-8" in str(info.value)


def test_utf16_file_gets_an_encoding_hint(tmp_path):
    path = tmp_path / "ps.yaml"
    path.write_bytes(POD.format(name="a").encode("utf-16"))
    with pytest.raises(ManifestErrors, match="saved as UTF-16"):
        load([path])


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + POD.format(name="a").encode())
    assert [m.key for m in load([path])] == ["Pod default/a"]


def test_deep_nesting_is_refused_without_a_traceback():
    error = only_error("a: " + "[" * 20000)
    assert "t.yaml:1:" in str(error) and "nest" in str(error)


def test_timestamps_stay_strings():
    (pod,) = load_text(POD.format(name="a").replace("  name: a", "  name: a\n  creationTimestamp: 2024-01-01T00:00:00Z"))
    assert pod.obj["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"


# ----------------------------------------------------------------------------------------- syntax errors


def test_tab_indentation_is_reported_with_line_and_hint():
    with pytest.raises(ManifestErrors) as info:
        load([DATA / "bad" / "tabs.yaml"])
    (error,) = info.value.errors
    assert error.source.line == 4
    assert "YAML syntax error" in error.message and "tab" in error.fix


def test_bad_indentation_is_reported_with_line_and_hint():
    error = only_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n labels: {}\n")
    assert str(error).startswith("t.yaml:5: YAML syntax error: did not find expected key")
    assert "indented differently" in error.fix


def test_missing_space_after_colon_hint():
    error = only_error("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n     labels: {}\n")
    assert error.source.line == 5 and "mapping values are not allowed" in error.message
    assert "indentation" in error.fix


def test_unclosed_flow_mapping():
    error = only_error("apiVersion: v1\nkind: Pod\nmetadata: {name: x\n")
    assert error.source.line == 4 and "not closed" in error.fix


def test_duplicate_key_is_reported_with_both_lines():
    error = only_error(POD.format(name="a").replace("  name: a", "  name: a\n  name: b"))
    assert str(error).startswith("t.yaml:5: key 'name' appears twice in the same mapping (first on line 4)")


def test_top_level_list_is_explained():
    error = only_error("- apiVersion: v1\n  kind: Pod\n")
    assert "document 1 is a list" in error.message and "kind: List" in error.fix


# ----------------------------------------------------------------------------------------- validation


def test_all_problems_of_a_load_are_reported_together_in_line_order():
    with pytest.raises(ManifestErrors) as info:
        load([DATA / "bad" / "mistakes.yaml"])
    file = DATA / "bad" / "mistakes.yaml"
    lines = [(e.source.file, e.source.line) for e in info.value.errors]
    assert lines == [(str(file), 6), (str(file), 16), (str(file), 18), (str(file), 24)]
    text = str(info.value)
    assert "selector does not match template labels" in text
    assert "must be a number, or for targetPort the name of a container port" in text
    assert "use apiVersion: networking.k8s.io/v1" in text
    assert "did you mean NetworkPolicy?" in text


@pytest.mark.parametrize(
    ("missing", "expected"),
    [("apiVersion: v1\n", "apiVersion is missing"), ("kind: Pod\n", "kind is missing")],
)
def test_missing_api_version_or_kind(missing, expected):
    error = only_error(POD.format(name="a").replace(missing, ""))
    assert expected in str(error) and str(error).startswith("t.yaml:")


def test_missing_name_points_at_metadata():
    error = only_error("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n")
    assert str(error).startswith("t.yaml:3: ConfigMap <no name>: metadata.name is missing")
    assert "add name:" in error.fix


def test_a_document_that_is_no_object_gets_one_error():
    error = only_error("replicas: 2\nimage: agnhost\n")
    assert str(error).startswith("t.yaml:1: this document is not a Kubernetes object")


def test_missing_metadata():
    error = only_error("apiVersion: v1\nkind: ConfigMap\n")
    assert "metadata is missing" in str(error)


@pytest.mark.parametrize(("field", "value"), [("containerPort", '"eighty"'), ("containerPort", '"80"')])
def test_container_port_must_be_a_number(field, value):
    error = only_error(POD.format(name="a") + f"    ports:\n    - {field}: {value}\n")
    assert error.source.line == 10
    assert "spec.containers[0].ports[0].containerPort: must be a number" in error.message
    if value == '"80"':
        assert "containerPort: 80" in error.fix and "without quotes" in error.fix


def test_service_port_must_be_a_number_target_port_may_be_a_name():
    text = """\
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec:
      ports:
      - name: a
        port: eighty
        targetPort: http
      - name: b
        port: 81
        targetPort: "8080"
    """
    errors = errors_of(text)
    assert [(e.source.line, "port" in e.message) for e in errors] == [(7, True), (11, True)]
    assert "spec.ports[0].port: must be a number, or for targetPort the name of a container port" in errors[0].message
    assert "targetPort '8080' is not a valid port name (a number goes without quotes: 8080)" in errors[1].message


@pytest.mark.parametrize("port", [0, 70000])
def test_port_range(port):
    error = only_error(f"apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec:\n  ports:\n  - port: {port}\n")
    assert error.source.line == 6 and f"port {port} is out of range" in error.message


def test_node_port_rules():
    text = """\
    apiVersion: v1
    kind: Service
    metadata: {name: a}
    spec:
      ports: [{port: 80, nodePort: 30080}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: b}
    spec:
      type: NodePort
      ports: [{port: 80, nodePort: 80}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: c}
    spec:
      type: NodePort
      ports: [{port: 80, nodePort: 30080}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: d}
    spec:
      type: NodePort
      ports: [{port: 80, nodePort: 30080}]
    """
    messages = [e.message for e in errors_of(text)]
    assert len(messages) == 3
    assert "nodePort may not be used when type is ClusterIP" in messages[0]
    assert "nodePort 80 is outside the valid range" in messages[1]
    assert "Service default/d" in messages[2] and "nodePort 30080 is already used by Service default/c" in messages[2]


def test_cluster_ip_rules():
    text = """\
    apiVersion: v1
    kind: Service
    metadata: {name: a}
    spec: {clusterIP: 10.0.0.5, ports: [{port: 80}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: b}
    spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
    """
    first, second = errors_of(text)
    assert "not in the cluster's service range 10.96.0.0/16" in first.message and first.source.line == 4
    assert "already allocated to Service kube-system/kube-dns" in second.message


def test_service_selector_with_match_labels_is_explained():
    error = only_error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector:\n    matchLabels: {app: a}\n"
                       "  ports: [{port: 80}]\n")
    assert error.source.line == 6 and "plain map of labels" in error.message


def test_several_service_ports_need_names_and_protocols_are_upper_case():
    text = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - port: 80\n    protocol: tcp\n  - port: 81\n"
    messages = [(e.source.line, e.message) for e in errors_of(text)]
    assert (6, "Service default/s: spec.ports[0]: when a Service has several ports, each needs a name") in messages
    assert any(line == 7 and "unsupported protocol 'tcp'" in m for line, m in messages)


EXTERNAL_NAME = "apiVersion: v1\nkind: Service\nmetadata: {{name: ext}}\nspec:\n  type: ExternalName\n  externalName: {value}\n"


@pytest.mark.parametrize("value,why,host", [
    ("https://example.com/", "URL scheme", "example.com"),
    ("example.com/api", "path", "example.com"),
    ("example.com:443", "port", "example.com"),
    ("Example.COM", "upper-case", "example.com"),
    ("my_host.example.com", "characters other than", "example.com"),
])
def test_external_name_must_be_a_host_name_only(value, why, host):
    error = only_error(EXTERNAL_NAME.format(value=value))
    assert error.source.line == 6
    assert "Service default/ext: spec.externalName:" in error.message and why in error.message
    assert error.fix == f"write the host name only, e.g. {host}"


@pytest.mark.parametrize("value", ["example.com", "example.com.", "db", "api.eu-west-1.example.org", "web.lesson3.svc.cluster.local"])
def test_external_name_accepts_dns_names_with_or_without_a_trailing_dot(value):
    assert load_text(EXTERNAL_NAME.format(value=value))[0].obj["spec"]["externalName"] == value


def test_unknown_service_type():
    error = only_error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  type: Nodeport\n  ports: [{port: 80}]\n")
    assert error.source.line == 5 and "unsupported Service type 'Nodeport'" in error.message


def test_invalid_selector_operator_in_network_policy_peer():
    text = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: p}
    spec:
      podSelector: {}
      ingress:
      - from:
        - namespaceSelector:
            matchExpressions: [{key: team, operator: in, values: [a]}]
    """
    error = only_error(text)
    assert error.source.line == 8
    assert "spec.ingress[0].from[0].namespaceSelector: invalid operator 'in'" in error.message


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"])
def test_workload_selector_must_match_template_labels(kind):
    text = f"""\
    apiVersion: apps/v1
    kind: {kind}
    metadata: {{name: w}}
    spec:
      selector: {{matchLabels: {{app: w}}}}
      template:
        metadata: {{labels: {{app: other}}}}
        spec: {{containers: [{{name: c, image: i}}]}}
    """
    error = only_error(text)
    assert error.source.line == 5 and "selector does not match template labels" in error.message
    assert "template labels: app=other" in error.message


def test_deployment_selector_operator_is_checked():
    text = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: w}
    spec:
      selector: {matchExpressions: [{key: app, operator: Equals, values: [w]}]}
      template:
        metadata: {labels: {app: w}}
        spec: {containers: [{name: c, image: i}]}
    """
    assert "invalid operator 'Equals'" in only_error(text).message


def test_same_object_twice_names_both_places(tmp_path):
    (tmp_path / "a.yaml").write_text(POD.format(name="a"))
    (tmp_path / "b.yaml").write_text("\n\n" + POD.format(name="a"))
    with pytest.raises(ManifestErrors) as info:
        load([tmp_path])
    (error,) = info.value.errors
    assert str(error).startswith(f"{tmp_path / 'b.yaml'}:6: Pod default/a: metadata.name: defined twice: here and at "
                                 f"{tmp_path / 'a.yaml'}:1")


def test_same_name_in_other_namespace_or_kind_is_fine():
    text = POD.format(name="a") + "---\n" + POD.format(name="a").replace("  name: a", "  name: a\n  namespace: x") + \
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
    assert len(load_text(text)) == 3


@pytest.mark.parametrize(("kind", "suggestion"), [("Deployement", "Deployment"), ("NetworkPolicies", "NetworkPolicy"),
                                                  ("service", "Service")])
def test_unknown_kind_suggests_the_right_one(kind, suggestion):
    error = only_error(f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: a}}\n")
    assert error.source.line == 2 and f"unknown kind '{kind}'" in error.message
    assert error.fix == f"did you mean {suggestion}?"


def test_custom_resource_kinds_from_a_crd_in_the_same_load_are_accepted():
    text = """\
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.example.com}
    spec:
      group: example.com
      scope: Namespaced
      names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
      versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
    ---
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: w}
    """
    crd, widget = load_text(textwrap.dedent(text))
    assert widget.key == "Widget default/w" and crd.namespace is None


@pytest.mark.parametrize("version", ["extensions/v1beta1", "networking.k8s.io/v1beta1"])
def test_old_ingress_api_version_says_what_to_use(version):
    error = only_error(f"apiVersion: {version}\nkind: Ingress\nmetadata: {{name: a}}\n")
    assert error.source.line == 1 and "removed in Kubernetes 1.22" in error.message
    assert error.fix.startswith("use apiVersion: networking.k8s.io/v1")


def test_wrong_group_for_a_kind():
    error = only_error("apiVersion: v1\nkind: Deployment\nmetadata: {name: a}\n")
    assert "Deployment a: apiVersion v1 for Deployment is not a version this kind is served in" in error.message
    assert error.fix.startswith("use apiVersion: apps/v1")


def test_unknown_field_suggests_the_spelling():
    error = only_error(POD.format(name="a") + "    imagePullPolice: Always\n")
    assert error.source.line == 9 and "unknown field 'imagePullPolice'" in error.message
    assert error.fix == "did you mean imagePullPolicy?"


def test_old_ingress_backend_fields_are_explained():
    text = """\
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: i}
    spec:
      rules:
      - http:
          paths:
          - path: /
            pathType: Prefix
            backend: {serviceName: web, servicePort: 80}
    """
    errors = errors_of(text)
    assert any("serviceName" in e.message and "extensions/v1beta1" in e.message for e in errors)
    assert all(e.source.line == 10 for e in errors if "service" in e.message)


def test_ingress_path_type_is_required_and_checked():
    text = """\
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: i}
    spec:
      rules:
      - http:
          paths:
          - path: /
            backend: {service: {name: web, port: {number: 80}}}
          - path: api
            pathType: prefix
            backend: {service: {name: web, port: {number: 80}}}
    """
    errors = errors_of(text)
    assert errors[0].source.line == 8 and "required field 'pathType' is missing" in errors[0].message
    assert errors[0].fix.startswith("add pathType: Prefix")
    assert any(e.source.line == 11 and "unsupported pathType 'prefix'" in e.message for e in errors)


def test_label_values_must_be_strings_and_valid():
    text = POD.format(name="a").replace("  name: a", "  name: a\n  labels:\n    version: 1\n    enabled: yes\n    tier: front end")
    messages = {e.source.line: e for e in errors_of(text)}
    assert 'version: "1"' in messages[6].fix
    assert "boolean" in messages[7].message and messages[7].fix == 'quote it: enabled: "yes"'
    assert "label value 'front end' is not valid" in messages[8].message


def test_quantities_may_be_numbers():
    (pod,) = load_text(POD.format(name="a") + "    resources: {limits: {cpu: 1, memory: 64Mi}, requests: {cpu: 0.5}}\n")
    assert pod.obj["spec"]["containers"][0]["resources"]["limits"]["cpu"] == 1


def test_invalid_object_names():
    errors = errors_of(POD.format(name="Web_1") + "---\napiVersion: v1\nkind: Service\nmetadata: {name: 1web}\n"
                       "spec: {ports: [{port: 80}]}\n")
    assert "'Web_1' is not a valid Pod name" in errors[0].message
    assert "'1web' is not a valid Service name" in errors[1].message and "starting with a letter" in errors[1].fix


def test_ip_block_except_must_be_inside_cidr():
    text = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: p}
    spec:
      podSelector: {}
      egress:
      - to:
        - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}
          podSelector: {}
    """
    messages = [e.message for e in errors_of(text)]
    assert any("cannot also have podSelector" in m for m in messages)
    assert any("except 10.1.0.0/24 is not inside cidr 10.0.0.0/16" in m and "strict subset" in m for m in messages)


def test_end_port_needs_a_numeric_port_not_smaller():
    text = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: p}
    spec:
      podSelector: {}
      ingress:
      - ports: [{port: 90, endPort: 80}, {port: http, endPort: 90}]
    """
    messages = [e.message for e in errors_of(text)]
    assert any("endPort 80 is smaller than port 90" in m for m in messages)
    assert any("endPort needs a numeric port" in m for m in messages)


def test_tls_secret_needs_cert_and_key_and_data_is_base64():
    text = "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: 'not base64!'\n"
    messages = [e.message for e in errors_of(text)]
    assert any("data[tls.crt] is not valid base64" in m for m in messages)
    assert any("needs data[tls.key]" in m for m in messages)


def test_error_strings_have_file_line_and_fix():
    error = ManifestError("something is wrong", source=None, fix=None)
    assert str(error) == "something is wrong"
    from grader.model.objects import Source

    error = ManifestError("bad port", Source("a.yaml", 2, 7), fix="use a number")
    assert str(error) == "a.yaml:7: bad port\n  fix: use a number"
    both = ManifestErrors([error, ManifestError("other", Source("b.yaml", 0, 1))])
    assert str(both) == "a.yaml:7: bad port\n  fix: use a number\nb.yaml:1: other"
    assert isinstance(both, ManifestError)


def test_valid_course_objects_pass():
    text = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: allow-dns}
    spec:
      podSelector: {}
      policyTypes: [Egress]
      egress:
      - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
          podSelector: {matchLabels: {k8s-app: kube-dns}}
        ports: [{port: 53, protocol: UDP}, {port: dns-tcp}, {port: 30000, endPort: 32767}]
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: web}
    spec:
      ingressClassName: cloud-provider-kind
      tls: [{hosts: [web.example.com], secretName: web-tls}]
      rules:
      - host: "*.example.com"
        http:
          paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}
    ---
    apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: r}
    spec: {parentRefs: [{name: gw}]}
    """
    assert [m.kind for m in load_text(textwrap.dedent(text))] == ["NetworkPolicy", "Ingress", "HTTPRoute"]


def test_ip_block_except_equal_to_cidr_is_rejected_as_the_api_server_does():
    text = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: p}
    spec:
      podSelector: {}
      ingress:
      - from:
        - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}
    """
    error = only_error(text)
    assert error.source.line == 8
    assert "spec.ingress[0].from[0].ipBlock.except[0]" in error.message and "strict subset" in error.message


KUBERNETES_SERVICE_AS_IT_IS = """
apiVersion: v1
kind: Service
metadata:
  name: kubernetes
  namespace: default
  labels: {component: apiserver, provider: kubernetes}
spec:
  clusterIP: 10.96.0.1
  ports: [{name: https, port: 443, protocol: TCP, targetPort: 6443}]
"""


def test_declaring_the_builtin_kubernetes_service_as_it_is_is_an_update_not_a_conflict():
    manifests = load_text(KUBERNETES_SERVICE_AS_IT_IS, "kubernetes.yaml")
    from grader.model.services import find_service_by_ip
    from grader.model.workloads import build_world

    world = build_world(manifests, include_system=True)
    assert [s.key for s in world.services].count("default/kubernetes") == 1
    assert find_service_by_ip(world, "10.96.0.1").source is not None  # the declared one, not a second built-in copy


def test_the_builtin_kubernetes_service_keeps_its_cluster_ip():
    (error,) = errors_of(KUBERNETES_SERVICE_AS_IT_IS.replace("10.96.0.1", "10.96.0.2"))
    assert "immutable" in error.message and "10.96.0.1" in error.message


def test_traffic_policies_take_cluster_or_local_and_external_only_on_external_services():
    text = """
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {externalTrafficPolicy: Local, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b}
spec: {type: NodePort, internalTrafficPolicy: local, ports: [{port: 80}]}
"""
    first, second = errors_of(text)
    assert "may only be set for externally-accessible services" in first.message
    assert "internalTrafficPolicy 'local' is not supported" in second.message

# ----------------------------------------------------------------------------------------- the API's schemas


def test_a_dangling_list_item_map_value_or_required_section_is_an_error_a_null_optional_field_is_not():
    errors = errors_of(POD.format(name="a") + "    ports:\n    -\n---\n"
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  WEB_HOST:\n---\n"
                       "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  selector: {matchLabels: {a: b}}\n"
                       "  template:\n")
    found = [(e.source.line, e.message.split(": ", 1)[1]) for e in errors]
    assert (10, "spec.containers[0].ports[0]: must be a mapping (key: value lines), got a null") in found
    assert (16, "data.WEB_HOST: must be a string, got a null") in found
    assert (23, "spec.template: must be a mapping (key: value lines), got a null") in found
    assert len(found) == 4 and "selector does not match template labels" in found[2][1]
    (pod,) = load_text(POD.format(name="a") + "    ports:\n  nodeSelector:\n")  # `ports:` with nothing: not set
    assert pod.obj["spec"]["nodeSelector"] is None


@pytest.fixture
def schema_cache(tmp_path, monkeypatch):
    from grader import schema

    def fresh(path):
        monkeypatch.setenv("NETCOURSE_CACHE_DIR", str(path))
        for cached in (schema.cache_dir, schema._schema, schema._compiled):
            cached.cache_clear()

    yield fresh
    for cached in (schema.cache_dir, schema._schema, schema._compiled):
        cached.cache_clear()


BAD_PORT = POD.format(name="a") + "    ports: [{containerPort: eighty}]\n"


def test_compiled_schemas_are_cached_per_kind_and_a_damaged_cache_is_rebuilt(tmp_path, schema_cache):
    from grader import schema

    schema_cache(tmp_path)
    assert "containerPort: must be a number" in only_error(BAD_PORT).message
    (compiled,) = schema.cache_dir().glob("pod-v1.*.marshal")
    assert (schema.cache_dir() / "pod-v1.json").is_file()
    compiled.write_bytes(b"not bytecode")
    schema_cache(tmp_path)
    assert "containerPort: must be a number" in only_error(BAD_PORT).message
    assert compiled.read_bytes() != b"not bytecode"


def test_a_cache_that_cannot_be_written_still_validates(tmp_path, schema_cache):
    (tmp_path / "file").write_text("")
    schema_cache(tmp_path / "file")  # a file where the folder should be: nothing can be written under it
    assert "containerPort: must be a number" in only_error(BAD_PORT).message
    assert not (tmp_path / "file").is_dir()


def test_the_schemas_are_the_pinned_kubernetes_versions():
    from grader import schema
    from grader.cluster.versions import KUBECTL_VERSION

    assert KUBECTL_VERSION == f"v{schema.kubernetes_version()}"
    assert schema._source_dir().name == f"v{schema.kubernetes_version()}-local-strict"
    assert all(schema.has_schema(kind, versions[0]) for kind, (versions, _, checked) in _KINDS.items() if checked)
