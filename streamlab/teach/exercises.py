"""Exercises on windowing, checked against the engine: ``sl.teach.exercise("which_windows", ...)``.

Three kinds:

- ``"which_windows"``: an event time; which windows contain it (sessions: which session window)?
- ``"when_fires"``: events in arrival order; after which event does a given window fire?
- ``"is_late"``: events in arrival order; is the highlighted event late?

The right answer comes from the engine (``SlicedLogic.windows_of``, or the window operator run on
the exercise's events) and is explained step by step. Times are in seconds; bare numbers in a
window spec are seconds too.

>>> import streamlab as sl
>>> ex = exercise("which_windows", window=sl.Tumble("10s"), seed=0)
>>> ex.question
'An event has event time t = 50s. Window: Tumble(10s). Which windows does it land in? (choose all)'
>>> ex.check([(50, 60)])[0], ex.check("[40s, 50s)")[0]
(True, False)
>>> print(ex.check([(40, 50)])[1])
Not quite: the answer is [50s, 60s).
Tumble(10s): intervals are [start, end): the start is in the window, the end is not.
start = t - ((t - offset) mod size) = 50s, so t = 50s is in exactly one window: [50s, 60s).
Not [40s, 50s): it ends exactly at 50s, and the end is excluded.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any, cast

import numpy as np
from ipywidgets import HTML, Button, Checkbox, HBox, Layout, RadioButtons, VBox
from traitlets import Int, Unicode

from ..core.durations import to_ms
from ..viz.table import frame_html
from ..windows.specs import Cumulate, Hop, Session, Tumble
from .problems import END, GENERATORS, Problem, sec, win

KINDS = tuple(GENERATORS)
_NUMBER = r"-?\d+(?:\.\d+)?"


class Exercise(VBox):
    """An exercise widget: the question, the choices, a Check button and the explained answer.

    ``check(answer)`` returns ``(correct, explanation)``; ``new()`` moves on to another exercise of
    the same kind (the next seed).
    """

    kind = Unicode("which_windows", help="which_windows, when_fires or is_late.")
    seed = Int(0, help="Seed of the current exercise (the same seed gives the same exercise).")

    def __init__(self, kind: str = "which_windows", window: Any = None, watermark: Any = "2s",
                 seed: int | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if window is None:
            window = Hop("10s", "5s")
        if not isinstance(window, (Tumble, Hop, Cumulate, Session)):
            raise TypeError(f"window must be sl.Tumble, sl.Hop, sl.Cumulate or sl.Session, got {window!r}")
        self.window = window
        self.plan = window.resolve("s")
        self.delay = to_ms(watermark, "s", name="watermark", allow_zero=True)
        self.prompt = HTML()
        self.feedback = HTML()
        self.check_button = Button(description="Check", icon="check", button_style="primary")
        self.next_button = Button(description="Another one", icon="refresh")
        self.inputs: list[Any] = []
        self.choice_box = VBox()
        # SeedSequence() without entropy draws a fresh int (the stubs type entropy for any SeedSequence)
        super().__init__(kind=kind, seed=int(cast(int, np.random.SeedSequence().entropy) % 10**6)
                         if seed is None else int(seed))
        self.children = [self.prompt, self.choice_box, HBox([self.check_button, self.next_button]),
                         self.feedback]
        self.add_class("streamlab-exercise")
        self.check_button.on_click(lambda _: self._on_check())
        self.next_button.on_click(lambda _: self.new())
        self._build()

    # --------------------------------------------------------------------------- problem
    def _build(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.problem: Problem = GENERATORS[self.kind](self.plan, self.delay, rng)
        p = self.problem
        table = ""
        if p.events is not None:
            ev = p.events.set_index("event").T
            table = frame_html(ev.reset_index(names=""), newest_first=False)
            if p.target is not None:
                table = table.replace(f"<th>{p.target}</th>", f"<th style='color:#dc2626'>"
                                      f"{p.target} ◀</th>")
        self.prompt.value = f"<div style='margin:4px 0'><b>{escape(p.question)}</b></div>{table}"
        if p.multiple:
            self.inputs = [Checkbox(description=label, value=False, indent=False,
                                    layout=Layout(width="auto")) for label, _ in p.choices]
        else:
            self.inputs = [RadioButtons(options=[label for label, _ in p.choices], value=None,
                                        layout=Layout(width="auto"))]
        self.choice_box.children = self.inputs
        self.feedback.value = ""

    def new(self) -> None:
        """Show another exercise of the same kind (the next seed)."""
        self.seed += 1
        self._build()

    @property
    def question(self) -> str:
        """The question, as plain text."""
        return self.problem.question

    @property
    def choices(self) -> list[tuple[str, Any]]:
        """(label, value) of every choice offered; windows are ``(start, end)`` in seconds."""
        return [(label, _learner(v)) for label, v in self.problem.choices]

    @property
    def answer(self) -> Any:
        """The right answer (from the engine), in the form ``check()`` takes."""
        a = self.problem.answer
        return sorted(_learner(w) for w in a) if isinstance(a, frozenset) else _learner(a)

    @property
    def explanation(self) -> str:
        """Why the right answer is right."""
        return self.problem.explanation

    # ------------------------------------------------------------------------ checking
    def check(self, answer: Any) -> tuple[bool, str]:
        """Check an answer; returns ``(correct, explanation)``.

        Answers: windows as ``(start, end)`` pairs in seconds or text like ``"[10, 20), [15, 25)"``
        (bare numbers are window starts; for Cumulate, ends); an event number (or ``"end"``) for
        ``when_fires``; ``True``/``False`` or ``"yes"``/``"no"`` for ``is_late``.
        """
        return self._judge(self._parse(answer))

    def _judge(self, given: Any) -> tuple[bool, str]:
        correct = given == self.problem.answer
        head = "Right." if correct else f"Not quite: the answer is {self._answer_text()}."
        return correct, f"{head}\n{self.problem.explanation}"

    def _answer_text(self) -> str:
        a = self.problem.answer
        if isinstance(a, frozenset):
            return ", ".join(win(w) for w in sorted(a))
        if isinstance(a, tuple):
            return win(a)
        if isinstance(a, bool):
            return "yes, it is late" if a else "no, it is on time"
        return "only at the end of the input" if a == END else f"after event #{a}"

    def _parse(self, answer: Any) -> Any:
        p = self.problem
        if p.kind == "is_late":
            return _parse_bool(answer)
        if p.kind == "when_fires":
            if p.events is None:  # pragma: no cover - every when_fires problem lists its events
                raise RuntimeError("a when_fires problem needs its events")
            return _parse_event(answer, len(p.events))
        windows = _parse_windows(answer, self.plan)
        if p.multiple:
            return frozenset(windows)
        if len(windows) != 1:
            raise ValueError(f"answer with one window such as (1.5, 4.5) or '[1.5s, 4.5s)', got {answer!r}")
        return windows[0]

    def _chosen(self) -> Any:
        p = self.problem
        if p.multiple:
            return frozenset(v for box, (_, v) in zip(self.inputs, p.choices) if box.value)
        label = self.inputs[0].value
        return next((v for lab, v in p.choices if lab == label), None)

    def selected(self) -> Any:
        """The answer currently chosen in the widget, in the form ``check()`` takes (None: none)."""
        chosen = self._chosen()
        if isinstance(chosen, frozenset):
            return sorted(_learner(w) for w in chosen)
        return None if chosen is None else _learner(chosen)

    def _on_check(self) -> None:
        chosen = self._chosen()
        if chosen is None or chosen == frozenset():
            self.feedback.value = "<i>Choose an answer first.</i>"
            return
        correct, text = self._judge(chosen)
        color = "#15803d" if correct else "#b91c1c"
        mark = "✓" if correct else "✗"
        lines = escape(text).split("\n")
        self.feedback.value = (f"<div style='color:{color};font-weight:600'>{mark} {lines[0]}</div>"
                               f"<div style='white-space:pre-wrap'>{'<br>'.join(lines[1:])}</div>")


def exercise(kind: str = "which_windows", window: Any = None, watermark: Any = "2s",
             seed: int | None = None) -> Exercise:
    """An exercise widget of ``kind`` (``which_windows``, ``when_fires``, ``is_late``).

    ``window`` defaults to ``sl.Hop("10s", "5s")``; ``watermark`` is the watermark delay;
    ``seed`` makes the exercise reproducible (None: a fresh one).
    """
    return Exercise(kind, window=window, watermark=watermark, seed=seed)


# --- reading answers ------------------------------------------------------------------------------
def _learner(value: Any) -> Any:
    """Internal values (windows in ms) in the learner's units (seconds)."""
    if isinstance(value, tuple):
        return tuple(v // 1000 if v % 1000 == 0 else v / 1000 for v in value)
    return value


def _parse_bool(answer: Any) -> bool:
    if isinstance(answer, (bool, np.bool_)):
        return bool(answer)
    text = str(answer).strip().lower()
    if text in ("yes", "y", "true", "late", "yes, late"):
        return True
    if text in ("no", "n", "false", "on time", "no, on time"):
        return False
    raise ValueError(f"answer True/False or 'yes'/'no', got {answer!r}")


def _parse_event(answer: Any, n: int) -> Any:
    if isinstance(answer, str):
        text = answer.strip().lower()
        if "end" in text:
            return END
        found = re.findall(r"\d+", text)
        if len(found) != 1:
            raise ValueError(f"answer with an event number 1..{n} or 'end', got {answer!r}")
        answer = int(found[0])
    if answer is None or answer == END:
        return END
    if isinstance(answer, (int, np.integer)) and not isinstance(answer, bool) and 1 <= answer <= n:
        return int(answer)
    raise ValueError(f"answer with an event number 1..{n} or 'end', got {answer!r}")


def _ms(x: Any) -> int:
    if isinstance(x, str):
        x = x.strip()
        return to_ms(x, "s", allow_zero=True) if not re.fullmatch(_NUMBER, x) else round(float(x) * 1000)
    return round(float(x) * 1000)


def _parse_windows(answer: Any, plan) -> list[tuple[int, int]]:
    """Windows (ms) from pairs, text with pairs, or bare numbers (starts; Cumulate: ends)."""
    if isinstance(answer, str):
        pairs = re.findall(rf"\[\s*({_NUMBER})s?\s*,\s*({_NUMBER})s?\s*\)", answer)
        if pairs:
            return [(_ms(a), _ms(b)) for a, b in pairs]
        items: list[Any] = re.findall(_NUMBER, answer)
    elif isinstance(answer, tuple) and len(answer) == 2 and not isinstance(answer[0], (tuple, list)):
        items = [answer]
    else:
        items = list(answer)
    out = []
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            out.append((_ms(item[0]), _ms(item[1])))
        elif plan.kind == "cumulate":
            end = _ms(item)
            out.append((end - 1 - (end - 1 - plan.offset) % plan.size, end))
        elif plan.kind in ("tumble", "hop"):
            out.append((_ms(item), _ms(item) + plan.size))
        else:
            raise ValueError(f"answer with (start, end) pairs, e.g. [(0, 10)], got {answer!r}")
    if not out and not isinstance(answer, str):
        return out
    if not out:
        raise ValueError(f"answer with windows such as '[10, 20), [15, 25)', got {answer!r}")
    return out


__all__ = ["Exercise", "exercise", "sec"]
