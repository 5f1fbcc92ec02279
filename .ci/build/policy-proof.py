"""The NetworkPolicy enforcement proof, run fresh (no remembered verdict): an agnhost server and client
in a scratch namespace, a probe that must connect, a deny-all policy, a probe that must fail.
Usage: python3 .ci/build/policy-proof.py CONTEXT; exit 0 only when the deny policy blocked the probe."""

import sys

from grader.backends.live import LiveBackend
from grader.cluster.doctor import prove_policy_enforcement
from grader.kube.client import KubeClient

client = KubeClient.connect(sys.argv[1])
check = prove_policy_enforcement(client, lambda ns: LiveBackend(client, "policy-proof", [ns], ready_timeout=180))
print(f"{'PASS' if check.ok else 'FAIL'} {check.name}: {check.detail}" + (f" (fix: {check.hint})" if check.hint else ""))
sys.exit(0 if check.ok else 1)
