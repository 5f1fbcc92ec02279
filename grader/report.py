"""Printing results for people: the terminal (rich) and notebooks (HTML)."""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console
from rich.markup import escape

from grader.checks import LessonReport


# How the summary line names where the lesson was graded ("on the live" read as a typo).
BACKEND_WORDS = {"live": "live cluster", "sim": "simulator"}


def print_report(report: LessonReport, console: Console, *, verbose: bool = False) -> None:
    """The report's notes, then one line per task; under each failure: expected, observed, evidence, hints,
    reproduce command."""
    for note in report.notes:
        console.print(f"[dim]{escape(note)}[/]")
    if report.setup_error:
        console.print(f"[bold red]{report.lesson}: could not grade[/]")
        console.print(escape(report.setup_error))
        console.print("Fix what is listed above and run the command again; nothing was graded.")
        return
    for t in report.tasks:
        if t.skipped:
            console.print(f"[yellow]SKIP[/] {t.id}: {escape(t.title)} [dim]({escape(t.skipped)})[/]")
            continue
        mark = "[green]PASS[/]" if t.passed else "[red]FAIL[/]"
        console.print(f"{mark} {t.id}: {escape(t.title)}")
        if t.passed or not t.failure:
            continue
        f = t.failure
        if "error" in f:
            console.print(f"     [red]the grader hit a bug of ours while checking this task:[/] {escape(f['error'])}")
            if verbose:
                console.print(escape(f.get("traceback", "")))
            console.print("     please report it with the output of `grade ... -v`")
            continue
        console.print(f"     expected: {escape(f['expected'])}")
        console.print(f"     observed: {escape(f['observed'])}")
        if f.get("table"):
            for line in f["table"].splitlines():
                console.print(f"       {escape(line)}", highlight=False)
        ev = f.get("evidence") or []
        if ev:
            console.print("     evidence:")
            shown = ev if verbose else ev[:14]
            for line in shown:
                console.print(f"       {escape(line)}", highlight=False)
            if len(ev) > len(shown):
                console.print(f"       ... {len(ev) - len(shown)} more lines (-v shows all)")
        for h in f.get("hints") or []:
            console.print(f"     [bold yellow]hint:[/] {escape(h)}")
        for c in f.get("kubectl") or []:
            console.print(f"     [cyan]reproduce:[/] {escape(c)}", highlight=False, soft_wrap=True)
    passed = sum(1 for t in report.tasks if t.passed and not t.skipped)
    total = sum(1 for t in report.tasks if not t.skipped)
    colour = "green" if report.passed else "red"
    console.print(f"[bold {colour}]{report.lesson}: {passed}/{total} tasks pass[/] (on the {BACKEND_WORDS.get(report.backend, report.backend)})")


def reachability_html(table: Any) -> str:
    """A coloured truth table: green allowed, red blocked, a thick border where observed != expected."""
    diffs = set(table.differences())
    head = "".join(f"<th style='padding:2px 6px'>{html.escape(t)}</th>" for t in table.targets)
    rows = []
    for s in table.sources:
        cells = []
        for t in table.targets:
            obs = table.observed.get((s, t))
            exp = table.expected.get((s, t))
            v = obs if obs is not None else exp
            colour = "#c8f7c5" if v else "#f7c5c5"
            border = "3px solid #000" if (s, t) in diffs else "1px solid #ccc"
            text = "." if v else "X"
            title = f"expected {'allowed' if exp else 'blocked'}" + (f", observed {'allowed' if obs else 'blocked'}" if obs is not None else "")
            cells.append(f"<td title='{title}' style='background:{colour};border:{border};text-align:center;padding:2px 6px'>{text}</td>")
        rows.append(f"<tr><th style='text-align:right;padding:2px 6px'>{html.escape(s)}</th>{''.join(cells)}</tr>")
    caption = f"{table.protocol}/{table.port}, from (rows) \u2192 to (columns): green allowed, red blocked" + (f"; {len(diffs)} cell(s) differ from the expectation (thick border)" if diffs else "")
    corner = "<th style='padding:2px 6px;font-weight:normal;font-style:italic;text-align:right'>from \u2193 to \u2192</th>"
    return f"<table style='border-collapse:collapse'><caption>{html.escape(caption)}</caption><tr>{corner}{head}</tr>{''.join(rows)}</table>"
