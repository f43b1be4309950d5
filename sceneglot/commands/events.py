"""How a command shows a job's progress: bars on a terminal, JSON lines for scripts, or nothing."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # --help imports every command module: the job layer only when a job runs
    from ..jobs import Event, Listener

MODES = ("auto", "bars", "json", "times", "none")


def add_progress(parser) -> None:
    parser.add_argument("--progress", choices=MODES, default="auto",
                        help="auto: bars on a terminal, nothing otherwise or under SCENEGLOT_QUIET; "
                             "json: one JSON object per event on stderr (stage, done, total, message; a stage's "
                             "last one adds its wall and CPU seconds and those of its parts); "
                             "times: one line per finished stage on stderr with those seconds")


def listeners(mode: str = "auto") -> list[Listener]:
    if mode == "auto":
        quiet = os.environ.get("SCENEGLOT_QUIET") or not sys.stderr.isatty()
        mode = "none" if quiet else "bars"
    if mode == "json":
        return [json_lines]
    if mode == "times":
        return [times]
    if mode == "bars":
        return [Bars()]
    return []


def json_lines(event: Event) -> None:
    print(json.dumps({"stage": event.stage, "done": event.done, "total": event.total, "message": event.message,
                      **event.timing()}), file=sys.stderr, flush=True)


def times(event: Event) -> None:
    """A finished stage's cost: `stage  wall s  CPU s  (part wall/CPU, ...)`, at its start on the job's clock."""
    if event.seconds is None:
        return
    parts = ", ".join(f"{k} {w:.2f}/{c:.2f}" for k, (w, c) in (event.parts or {}).items())
    cached = "  cached" if event.message == "cached" else ""
    print(f"sceneglot: {event.stage:<12} at {event.at or 0:7.2f} s  wall {event.seconds:7.2f} s  "
          f"CPU {event.cpu or 0:7.2f} s{cached}{'  (' + parts + ')' if parts else ''}", file=sys.stderr, flush=True)


class Bars:
    """One tqdm bar per stage while it runs (stages that run side by side get a bar each)."""

    def __init__(self) -> None:
        self._bars: dict = {}

    def __call__(self, event: Event) -> None:
        bar = self._bars.get(event.stage)
        if bar is None:
            from tqdm import tqdm

            bar = self._bars[event.stage] = tqdm(total=event.total, desc=event.stage, file=sys.stderr, leave=False,
                                                 unit="", dynamic_ncols=True)
        if event.total is not None and bar.total != event.total:
            bar.total = event.total
        bar.n = event.done
        bar.set_postfix_str(event.message, refresh=False)
        bar.refresh()
        if event.message in ("done", "cached"):
            bar.close()
            del self._bars[event.stage]
