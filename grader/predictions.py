"""Predictions in the lessons: the learner writes one, then a reveal cell runs the probes and compares.

    prediction = predict("pod-ports", {       # the learner replaces each None
        "TCP 8080": None,
        "TCP 80": None,
    })

    # Reveal: ...                               (the next cell says first that it shows the answer)
    observed = {case: lab.connect(...) for case in prediction}
    reveal(prediction, observed)

`predict` stops the notebook (Run All stops there) while a None is left, with a message that says
what to write. The lesson's own expectation, the answer key, lives apart from the notebook in
lessons/answers/<lesson>.yaml, so reading the next cell does not give the answer away; `reveal`
checks what happened against it, so a lesson still fails loudly when the cluster disagrees with it.

GRADE_PREDICTIONS=answers fills every None from the answer key (the project's tests run the
notebooks that way; a learner who only wants to read on can too).

Words fit the probe: a connection "connects", is "refused" (nothing listens, no endpoints) or is
"blocked" (dropped: a NetworkPolicy; live, the client times out); a name "resolves" or is
"NXDOMAIN"; an HTTP request is answered by a Service, or gets a status such as "404"; a route
is "accepted" or not, with the reason its status gives.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.checks import SetupError
from grader.lab import Reachability
from grader.lessons import course_root
from grader.probes import ClientIP, Connect, Http, Resolve, Result

PREDICTIONS_ENV = "GRADE_PREDICTIONS"
FILL_FROM_ANSWERS = "answers"
SKIP = "?"

# Per kind: the word for "it worked", the words a learner may write, and what True/False stand for.
KINDS: dict[str, dict[str, Any]] = {
    "connect": {"yes": "connects", "no": "does not connect", "words": ["connects", "refused", "blocked", "does not connect"]},
    "resolve": {"yes": "resolves", "no": "does not resolve", "words": ["resolves", "NXDOMAIN", "does not resolve"]},
    "http": {"yes": None, "no": None, "words": []},  # the answer key lists the Services and statuses
    "status": {"yes": None, "no": None, "words": []},  # a condition a controller writes: the key lists its values
}


def answers_dir() -> Path:
    """lessons/answers/ in the course checkout (grader.notebook imports this module, not the reverse)."""
    return course_root() / "lessons" / "answers"


@dataclass(frozen=True)
class AnswerKey:
    """One prediction's expected outcomes, as the lesson claims them (lessons/answers/<lesson>.yaml)."""

    name: str
    lesson: str
    kind: str
    choices: tuple[str, ...]
    answers: dict[str, str]


def load_answer_keys(folder: Path | None = None) -> dict[str, AnswerKey]:
    """Every answer key of the course, by prediction name (names are unique across lessons)."""
    folder = folder or answers_dir()
    files = sorted(folder.glob("*.yaml"))
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    if stamp not in _loaded:  # read once per version of the files: a notebook asks at every prediction
        _loaded.clear()
        _loaded[stamp] = _read_answer_keys(files)
    return dict(_loaded[stamp])


_loaded: dict[tuple[tuple[str, int], ...], dict[str, AnswerKey]] = {}


def _read_answer_keys(files: list[Path]) -> dict[str, AnswerKey]:
    import yaml

    loader = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader  # libyaml: ~10x faster
    keys: dict[str, AnswerKey] = {}
    for path in files:
        try:
            data = yaml.load(path.read_text(), Loader=loader) or {}
        except yaml.YAMLError as e:
            raise SetupError(f"{path}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise SetupError(f"{path}: expected a mapping of prediction names to answer keys")
        for name, entry in data.items():
            where = f"{path}: {name}"
            if name in keys:
                raise SetupError(f"{where}: the name is already used in lessons/answers/{keys[name].lesson}.yaml")
            if not isinstance(entry, dict) or entry.get("kind") not in KINDS or not isinstance(entry.get("answers"), dict):
                raise SetupError(f"{where}: needs kind ({', '.join(KINDS)}), choices and answers")
            kind = entry["kind"]
            choices = tuple(str(c) for c in entry.get("choices") or KINDS[kind]["words"])
            try:
                answers = {str(k): _canonical(v, kind, choices, f"{where}: {k}") for k, v in entry["answers"].items()}
            except ValueError as e:
                raise SetupError(str(e)) from None
            keys[name] = AnswerKey(str(name), path.stem, kind, choices, answers)
    return keys


def _canonical(value: Any, kind: str, choices: tuple[str, ...], where: str) -> str:
    """A written outcome in its canonical spelling (True -> "connects", "nxdomain" -> "NXDOMAIN")."""
    words = KINDS[kind]
    if isinstance(value, bool) and words["yes"]:
        return words["yes"] if value else words["no"]
    text = str(value).strip()
    for choice in choices:
        if text.lower() == choice.lower():
            return choice
    raise ValueError(f"{where}: {value!r} is not one of {_or(choices)}")


def _or(words: tuple[str, ...] | list[str]) -> str:
    quoted = [f'"{w}"' for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class PredictionNeeded(Exception):
    """Raised by predict() while the learner has not written a prediction: it stops Run All there.

    Shown without a traceback (IPython prints `_render_traceback_()` instead): it is the lesson
    waiting for the learner, not an error."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines

    def _render_traceback_(self) -> list[str]:
        return self.lines


class LessonMismatch(AssertionError):
    """What happened differs from what the lesson claims (the answer key)."""


@dataclass
class Prediction(Mapping[str, Any]):
    """The learner's prediction: {case: outcome}. Iterating gives the cases, in the order written."""

    name: str
    key: AnswerKey
    guesses: dict[str, str]
    filled_from_answers: list[str] = field(default_factory=list)

    def __getitem__(self, case: str) -> str:
        return self.guesses[case]

    def __iter__(self) -> Iterator[str]:
        return iter(self.guesses)

    def __len__(self) -> int:
        return len(self.guesses)

    def __repr__(self) -> str:
        return f"prediction {self.name!r}: " + ", ".join(f"{k}: {v}" for k, v in self.guesses.items())


def predict(name: str, guesses: Mapping[Any, Any]) -> Prediction:
    """Record a prediction for the lesson's question `name`; each value is the outcome you expect.

    While a value is None, this stops the notebook with a message saying what to write. "?" skips
    a case. With GRADE_PREDICTIONS=answers every None is filled from the lesson's answer key.
    """
    keys = load_answer_keys()
    if name not in keys:
        raise SetupError(f"no answer key named {name!r} in {answers_dir()} (known: {', '.join(sorted(keys))})")
    key = keys[name]
    cases = {str(case): value for case, value in guesses.items()}
    if list(cases) != list(key.answers):
        missing = [c for c in key.answers if c not in cases]
        extra = [c for c in cases if c not in key.answers]
        raise PredictionNeeded([
            "Keep the cases of this prediction as the lesson wrote them; change only the values.",
            *([f"Missing: {', '.join(missing)}"] if missing else []),
            *([f"Not part of this question: {', '.join(extra)}"] if extra else []),
        ])
    mode = (os.environ.get(PREDICTIONS_ENV) or "").strip().lower()
    if mode not in ("", FILL_FROM_ANSWERS):
        raise SetupError(f"{PREDICTIONS_ENV}={mode!r}: the only setting is {PREDICTIONS_ENV}={FILL_FROM_ANSWERS} (fill predictions from the answer key)")
    filled = []
    if mode == FILL_FROM_ANSWERS:
        for case, value in cases.items():
            if value is None:
                cases[case] = key.answers[case]
                filled.append(case)
        print(f"{PREDICTIONS_ENV}={FILL_FROM_ANSWERS}: {len(filled)} of {len(cases)} predictions filled in from lessons/answers/{key.lesson}.yaml")
    hint = _or(key.choices) + (" (True and False work too)" if KINDS[key.kind]["yes"] else "")
    blank = [case for case, value in cases.items() if value is None]
    if blank:
        raise PredictionNeeded([
            "Your turn: predict before you read on.",
            f"In this cell, replace each None with {hint}, or \"{SKIP}\" to skip a case.",
            f"Still None: {', '.join(blank)}",
            "Then run this cell again, and go on with Run > Run Selected Cell and All Below.",
        ])
    written: dict[str, str] = {}
    bad = []
    for case, value in cases.items():
        if value == SKIP:
            written[case] = SKIP
            continue
        try:
            written[case] = _canonical(value, key.kind, key.choices, case)
        except ValueError:
            bad.append(f"{case}: {value!r}")
    if bad:
        raise PredictionNeeded([
            f"Some predictions are not among the outcomes this question knows: write {hint}.",
            *bad,
        ])
    return Prediction(name, key, written, filled)


# ----------------------------------------------------------------------------------- revealing


def outcome(value: Any, kind: str) -> str:
    """What happened, in the words of the probe kind (a Result, a bool from a table, or a word)."""
    if isinstance(value, Result):
        probe = value.probe
        if isinstance(probe, (Connect, ClientIP)):
            return {"allowed": "connects", "refused": "refused", "no-endpoints": "refused", "blocked": "blocked"}.get(value.verdict, "does not connect")
        if isinstance(probe, Resolve):
            return "resolves" if value.ok else ("NXDOMAIN" if value.verdict == "not-found" else "does not resolve")
        if isinstance(probe, Http):
            service = value.data.get("service") or ""
            return service.rsplit("/", 1)[-1] if value.ok and service else str(value.data.get("status") or "no answer")
    if isinstance(value, bool):
        return {"connect": "connects" if value else "blocked", "resolve": "resolves" if value else "does not resolve"}.get(kind, str(value))
    return str(value)


def _detail(value: Any, word: str) -> str:
    """The observed word, with the HTTP status where there is one."""
    if isinstance(value, Result) and isinstance(value.probe, Http) and value.ok:
        return f"{word} (HTTP {value.data.get('status')})"
    if isinstance(value, Result) and isinstance(value.probe, Http):
        return f"HTTP {word}"
    return word


def agrees(written: str, observed: str, kind: str) -> bool:
    """A written outcome against an observed one: "does not connect" agrees with refused and blocked."""
    words = KINDS[kind]
    if written == words["no"] and words["no"]:
        return observed != words["yes"]
    return written.lower() == observed.lower()


@dataclass
class Reveal:
    """Your prediction next to what happened, row by row; shown as a coloured table."""

    name: str
    kind: str
    rows: list[tuple[str, str, str, str]]  # (case, you said, what happened, as shown)
    filled_from_answers: bool = False

    @property
    def skipped(self) -> list[str]:
        return [case for case, said, _, _ in self.rows if said == SKIP]

    @property
    def wrong(self) -> list[str]:
        return [case for case, said, seen, _ in self.rows if said != SKIP and not agrees(said, seen, self.kind)]

    def summary(self) -> str:
        total = len(self.rows)
        right = total - len(self.wrong) - len(self.skipped)
        text = f"{right} of {total} predictions right"
        if self.wrong:
            text += "; different: " + ", ".join(self.wrong)
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        if self.filled_from_answers:
            text += f" (filled in by {PREDICTIONS_ENV}={FILL_FROM_ANSWERS})"
        return text

    def _repr_html_(self) -> str:
        cell = "style='text-align:left;padding:2px 8px'"
        out = [
            f"<p><b>Reveal</b>: {html.escape(self.summary())}</p>",
            f"<table><tr><th {cell}>case</th><th {cell}>you said</th><th {cell}>what happened</th><th {cell}></th></tr>",
        ]
        wrong = set(self.wrong)
        for case, said, _, seen in self.rows:
            mark, colour = ("skipped", "#eeeeee") if said == SKIP else (("differs", "#f7c5c5") if case in wrong else ("right", "#c8f7c5"))
            out.append(
                f"<tr style='background:{colour}'><td {cell}>{html.escape(case)}</td><td {cell}>{html.escape(said)}</td>"
                f"<td {cell}>{html.escape(seen)}</td><td {cell}>{mark}</td></tr>"
            )
        out.append("</table>")
        return "".join(out)

    def __repr__(self) -> str:
        lines = [f"Reveal: {self.summary()}"]
        lines += [f"  {case}: you said {said}, what happened: {seen}" for case, said, _, seen in self.rows]
        return "\n".join(lines)


def reveal(prediction: Prediction, observed: Mapping[str, Any] | Reachability) -> Reveal:
    """Compare your prediction with what happened, and check the lesson's own claim (its answer key).

    `observed`: {case: Result} (or {case: word}), or a reachability table for cases "src -> dst".
    When what happened differs from the answer key, the comparison is shown and a LessonMismatch
    says which cases differ: on the simulator that is a bug of the course, on a live cluster a real
    difference between your cluster and the lesson (explain(result) shows the evidence).
    """
    if not isinstance(prediction, Prediction):
        raise TypeError("reveal(prediction, observed): pass what predict(...) returned")
    key = prediction.key
    rows: list[tuple[str, str, str, str]] = []
    mismatches = []
    for case in prediction:
        value = _observed_value(observed, case)
        word = outcome(value, key.kind)
        rows.append((case, prediction[case], word, _detail(value, word)))
        if not agrees(key.answers[case], word, key.kind):
            mismatches.append(f"{case}: the lesson expects {key.answers[case]}, observed {word}")
    result = Reveal(prediction.name, key.kind, rows, bool(prediction.filled_from_answers))
    if mismatches:
        _show(result)
        raise LessonMismatch(
            "What happened differs from what this lesson claims:\n  " + "\n  ".join(mismatches)
            + "\nOn the simulator this is a bug in the course. On a live cluster it is a real difference:"
              " explain(result) on the probe shows the evidence and the kubectl command."
        )
    return result


def _observed_value(observed: Mapping[str, Any] | Reachability, case: str) -> Any:
    if isinstance(observed, Reachability):
        src, sep, dst = case.partition(" -> ")
        if not sep:
            raise KeyError(f"case {case!r}: a table cell is written 'source -> target'")
        value = lookup_cell(observed, (src, dst))
        if value is None:
            raise KeyError(f"the table has no cell {case!r}: its sources are {observed.sources}, its targets {observed.targets}")
        return value
    if case not in observed:
        raise KeyError(f"nothing observed for {case!r}: the observed cases are {list(observed)}")
    return observed[case]


def _show(obj: Any) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(repr(obj))
        return
    if get_ipython() is None:
        print(repr(obj))
    else:
        display(obj)


def short(key: str) -> str:
    """"ns/pod" -> "pod" (for tables whose pods share one namespace)."""
    return key.rsplit("/", 1)[-1]


def lookup_cell(table: Reachability, key: tuple[str, str]) -> bool | None:
    """A cell by ("ns/a", "ns/b") or by bare pod names when those are unambiguous."""
    if key in table.observed:
        return table.observed[key]
    matches = [k for k in table.observed if short(k[0]) == short(key[0]) and short(k[1]) == short(key[1])]
    return table.observed[matches[0]] if len(matches) == 1 else None
