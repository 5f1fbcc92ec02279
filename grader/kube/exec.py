"""Run a command in a pod over the API server's exec websocket and get its exit code.

The exit code travels on channel 3 as a metav1.Status once the process ends; when the command
outlives our timeout the channel stays empty. `kubernetes`' `WSClient.returncode` raises in that
case (and on a Failure Status without an exit code), so the status is parsed here instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL


@dataclass
class ExecResult:
    """What one exec produced. `returncode` is None when the command did not finish or never started."""

    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    error: str = ""  # the API's reason when the exec could not run (pod gone, binary missing...)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def parse_exec_status(text: str) -> tuple[int | None, str]:
    """Exit code and message from the Status on channel 3 ("" -> (None, "no status: the command did not finish"))."""
    if not text or not text.strip():
        return None, "no status: the command did not finish"
    try:
        status = yaml.safe_load(text)
    except yaml.YAMLError:
        return None, f"unreadable exec status: {text[:200]}"
    if not isinstance(status, dict):
        return None, f"unreadable exec status: {text[:200]}"
    if status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), status.get("message", "")
            except (TypeError, ValueError):
                break
    return None, status.get("message") or json.dumps(status)


def run_exec(
    core_api: Any,
    namespace: str,
    pod: str,
    command: list[str],
    *,
    container: str | None = None,
    timeout: float = 10.0,
) -> ExecResult:
    """Run `command` (argv, no shell) in `namespace/pod`, waiting at most `timeout` seconds."""
    kwargs: dict[str, Any] = dict(command=command, stdout=True, stderr=True, stdin=False, tty=False,
                                  _preload_content=False)
    if container:
        kwargs["container"] = container
    try:
        ws = stream(core_api.connect_get_namespaced_pod_exec, pod, namespace, **kwargs)
    except ApiException as exc:
        return ExecResult(None, error=f"exec in {namespace}/{pod} failed: {_api_message(exc)}")
    try:
        ws.run_forever(timeout=timeout)
        timed_out = ws.is_open()
        if timed_out:
            ws.close(timeout=1)
        stdout = ws.read_channel(STDOUT_CHANNEL, timeout=0)
        stderr = ws.read_channel(STDERR_CHANNEL, timeout=0)
        status_text = ws.read_channel(ERROR_CHANNEL, timeout=0)
    finally:
        if ws.is_open():
            ws.close(timeout=1)
    code, message = parse_exec_status(status_text)
    if timed_out:
        return ExecResult(None, stdout, stderr, timed_out=True,
                          error=f"the command did not finish within {timeout:g} s")
    return ExecResult(code, stdout, stderr, error="" if code is not None else message)


def _api_message(exc: ApiException) -> str:
    """The Status message inside an exec handshake failure (the client packs the whole response into reason)."""
    text = str(exc.reason or exc.body or exc)
    match = re.search(r'"message":\s*"((?:[^"\\]|\\.)*)"', text)
    if match:
        return json.loads(f'"{match[1]}"')
    return text.split(" -+-+- ")[0]
