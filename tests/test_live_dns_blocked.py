"""A connect by name whose lookup is blocked is a DNS failure, on both backends alike (issue 10, section 3, item 3).

On a real cluster `agnhost connect web:80 --timeout=1s` bounds only the dial: with DNS blocked its resolver
needed 10 s to say "DNS: lookup ...", so the probe showed as "the command did not finish within 5 s".
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from fake_apiserver import ExecScript, FakeApiServer, FakeTime, exit_status
from grader.backends.live import LiveBackend
from grader.backends.sim import SimBackend
from grader.kube.client import KubeClient
from grader.manifests import load_text
from grader.probes import Connect

pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py

DIG_TIMEOUT = "\n; <<>> DiG 9.18 <<>> +search +noall +comments +answer web\n;; global options: +cmd\n" \
              ";; connection timed out; no servers could be reached\n"
DIG_NXDOMAIN = ";; Got answer:\n;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 1\n"
DIG_OK = (";; Got answer:\n;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 2\n"
          "web.lesson6.svc.cluster.local. 30 IN A 10.96.0.50\n")


@pytest.fixture
def api():
    with FakeApiServer() as server:
        server.put({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client", "namespace": "lesson6"},
                    "status": {"podIP": "10.244.1.5"}})
        yield server



def backend_for(api):
    cfg = k8s.Configuration()
    cfg.host = api.url
    t = FakeTime()
    return LiveBackend(KubeClient(k8s.ApiClient(cfg), "kind-course"), "lesson6", ["lesson6"], sleep=t.sleep, clock=t.clock)


def cluster(api, dig_output, dig_code):
    """dig answers as given; agnhost connect by name hangs in its resolver, as it did on the real cluster."""
    ran: list[list[str]] = []

    def handler(ns, pod, cmd):
        ran.append(cmd)
        if cmd[0] == "dig":
            return ExecScript(stdout=dig_output, status=exit_status(dig_code))
        if cmd[:2] == ["/agnhost", "connect"]:
            if dig_code != 0:
                return ExecScript(status=None, hang=15)  # the resolver is still waiting
            return ExecScript(status=exit_status(0))
        return ExecScript(status=exit_status(127))

    api.exec_handler = handler
    return ran


@pytest.mark.parametrize("expect", [True, False, None])
def test_a_blocked_lookup_is_a_dns_failure_not_a_timeout(api, expect):
    ran = cluster(api, DIG_TIMEOUT, 9)
    (result,) = backend_for(api).run([Connect("lesson6/client", "web", 80)], expect=[expect])
    assert not result.ok and result.verdict == "dns-failure"
    text = "\n".join(result.evidence)
    assert "connection timed out; no servers could be reached" in text and "cannot resolve web" in text
    assert "did not finish" not in text
    assert result.kubectl == ("kubectl --context kind-course exec -n lesson6 client -- "
                              "/agnhost connect web:80 --timeout=1s --protocol=tcp")
    assert not [c for c in ran if c[0] == "/agnhost"]  # nothing was dialled


def test_a_name_that_does_not_exist_is_a_dns_failure(api):
    cluster(api, DIG_NXDOMAIN, 0)
    (result,) = backend_for(api).run([Connect("lesson6/client", "nosuch", 80)])
    assert result.verdict == "dns-failure" and "status NXDOMAIN (no such name)" in result.evidence[0]


def test_a_name_that_resolves_is_dialled(api):
    ran = cluster(api, DIG_OK, 0)
    (result,) = backend_for(api).run([Connect("lesson6/client", "web", 80)])
    assert result.ok and result.verdict == "allowed"
    assert [c[0] for c in ran] == ["dig", "/agnhost"]


def test_an_ip_is_dialled_without_a_lookup(api):
    ran = cluster(api, DIG_TIMEOUT, 9)
    backend_for(api).run([Connect("lesson6/client", "10.96.0.50", 80)])
    assert [c[0] for c in ran] == ["/agnhost"]


WORLD = """\
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.66.1, args: [pause]}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.66.1, args: [netexec], ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: client-egress-web-only}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: web}}}]
"""


def test_the_simulator_says_the_same_for_the_same_cluster(api):
    """The same scenario (egress allows web but not DNS) on both backends: the same verdict."""
    sim = SimBackend()
    sim.apply(load_text(WORLD, "world.yaml", namespace="lesson6"))
    (simulated,) = sim.run([Connect("lesson6/client", "web", 80)], expect=[True])
    cluster(api, DIG_TIMEOUT, 9)  # what the real cluster's DNS does under that policy
    (live,) = backend_for(api).run([Connect("lesson6/client", "web", 80)], expect=[True])
    assert simulated.verdict == live.verdict == "dns-failure"
    assert simulated.ok is live.ok is False
