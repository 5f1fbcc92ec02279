"""`grade workshop report`: per-task results (one row per learner x task, never totals) as CSV, JSON or HTML."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

COLUMNS = ["learner", "lesson", "task", "title", "status", "last_attempt", "attempts", "backend", "observed"]
FORMATS = ("csv", "json", "html")


def render(rows: Iterable[Mapping[str, Any]], fmt: str) -> str:
    """The rows of grader.workshop.results.task_rows in `fmt` ("csv", "json" or "html")."""
    rows = list(rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    if fmt == "json":
        return json.dumps([{k: r.get(k) for k in COLUMNS + ["passed"]} for r in rows], indent=1) + "\n"
    if fmt == "html":
        return _html(rows)
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def _html(rows: list[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for r in rows:
        cells = "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in COLUMNS)
        body.append(f'<tr class="{html.escape(str(r.get("status", "")).replace(" ", "-"))}">{cells}</tr>')
    style = (
        "body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
        "font-size:13px;text-align:left}tr.pass td{background:#e6f4e6}tr.fail td{background:#fbe3e3}"
        "tr.setup-error td{background:#fff0d0}tr.not-graded td{color:#888}"
    )
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>k8s-netcourse workshop report</title>"
        f"<style>{style}</style></head><body>\n<h1>Workshop report: per-task results</h1>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table></body></html>\n"
    )
