"""The worker pool: each slot is a server thread feeding one long-lived worker process.

Jobs run in their own processes, so a job holding the GIL (tracking, drawing)
never slows a request, a crash in native code fails one job instead of the
server, and a cancelled job that does not stop in time can be killed: every
output is written to a temporary name and renamed, so a kill leaves no half
file, and the finished stages stay cached for the next run.

The only call into the pipeline is `execute`, which runs in the worker process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .store import JobRow, Store

CANCEL_GRACE = 3.0  # seconds a cancelled run gets to stop by itself before its process is killed
WORKER_NICE = 10  # jobs yield the CPU to the server process, so requests stay quick while jobs run
EVENT_INTERVAL = 0.1  # at most this often a stage's progress crosses from the worker to the store
# The stages each action reports, as sceneglot.jobs documents them (speech runs beside faces and asd).
STAGES = {"run": ("probe", "audio", "asr", "diarization", "speech", "faces", "asd", "assign", "translate", "render"),
          "render": ("edits", "probe", "render")}


class Cancelled(Exception):
    """Raised inside a worker process when the server asked its job to stop."""


def execute(folder: Path, input_name: str, action: str, options: dict[str, Any],
            emit: Callable[[str, float, float | None, str], None], cancelled: threading.Event) -> None:
    """Run one job (`action` "run": the whole job; "render": re-render from folder/scene.json)."""
    from .. import jobs

    job = jobs.Job(input=str(folder / input_name), folder=str(folder), target_language=options["to"],
                   translator=options.get("translator"), output=str(folder / "output.mp4"),  # exports: output.LANG.srt
                   speech=jobs.SpeechSettings(language=options.get("language"),
                                              num_speakers=options.get("num_speakers"),
                                              min_speakers=options.get("min_speakers"),
                                              max_speakers=options.get("max_speakers")))
    listeners = [lambda e: emit(e.stage, e.done, e.total, e.message)]
    try:
        if action == "run":
            from ..commands.options import ray_executor  # serve --ray: the stages run on that cluster

            jobs.run_job(job, listeners, jobs.CancelToken(cancelled),
                         ray_executor(os.environ.get("SCENEGLOT_RAY"), os.environ.get("SCENEGLOT_RAY_CPUS", 1)))
        else:
            jobs.render_job(job, listeners, jobs.CancelToken(cancelled))
    except jobs.Cancelled:
        raise Cancelled from None


def warm_up() -> None:
    """Import the pipeline while the worker waits for its first job (seconds, paid once per worker)."""
    from .. import jobs, pipeline, scene  # noqa: F401
    from ..render import burn  # noqa: F401
    from ..translate import run  # noqa: F401


class _Throttle:
    """Forwards progress events, at most one per EVENT_INTERVAL within a stage; a stage's last one always."""

    def __init__(self, send: Callable[[tuple], None]) -> None:
        self.send = send
        self.last = 0.0
        self.stage: str | None = None
        self.pending: tuple | None = None

    def __call__(self, stage: str, done: float, total: float | None, message: str = "") -> None:
        event = ("event", stage, float(done), None if total is None else float(total), str(message or ""))
        now = time.monotonic()
        if stage != self.stage:
            self.flush()
            self.stage = stage
        elif not (total and done >= total) and now - self.last < EVENT_INTERVAL:
            self.pending = event
            return
        self.pending = None
        self.last = now
        self.send(event)

    def flush(self) -> None:
        if self.pending is not None:
            self.send(self.pending)
            self.pending = None


def _die_with_parent() -> None:
    """On Linux, the kernel kills this process when the server dies, even by SIGKILL (prctl PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1


def _child(commands, events) -> None:
    """A worker process: run jobs one at a time as the server sends them; a reader thread takes cancels."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops its workers
    _die_with_parent()
    with contextlib.suppress(OSError, AttributeError):
        os.nice(WORKER_NICE)
    cancel = threading.Event()
    runs: queue.Queue = queue.Queue()

    def reader() -> None:
        while True:
            try:
                msg = commands.recv()
            except (EOFError, OSError):
                msg = ("stop",)
            if msg[0] == "cancel":
                cancel.set()
            elif msg[0] == "run":
                cancel.clear()  # the server sends a run only after the previous one answered
                runs.put(msg)
            else:
                runs.put(None)
                return

    threading.Thread(target=reader, name="sceneglot-worker-commands", daemon=True).start()
    warm_up()
    events.send(("warm",))
    while (msg := runs.get()) is not None:
        _, folder, input_name, action, options = msg
        emit = _Throttle(events.send)
        start = time.perf_counter()
        try:
            execute(Path(folder), input_name, action, options, emit, cancel)
            emit.flush()
            events.send(("done", None, time.perf_counter() - start))
        except Cancelled:
            events.send(("cancelled", None, time.perf_counter() - start))
        except Exception as exc:
            from ..errors import SceneglotError

            if isinstance(exc, SceneglotError):
                reason = str(exc)
            else:  # a bug: the traceback goes to the server's log, the job gets one line
                traceback.print_exc(file=sys.stderr)
                reason = f"internal error: {type(exc).__name__}: {exc}".splitlines()[0]
            events.send(("failed", reason, time.perf_counter() - start))


class Overall:
    """A job's progress (0..1): the mean of its stages' fractions, each stage counting once.

    No stage is weighted by a guess of its cost: the stages a run will report are
    known (`STAGES`), and one reported that is not listed joins the count.
    """

    def __init__(self, action: str) -> None:
        self.fractions = dict.fromkeys(STAGES[action], 0.0)

    def update(self, stage: str, done: float, total: float | None) -> float:
        if total:
            self.fractions[stage] = max(self.fractions.get(stage, 0.0), min(1.0, done / total))
        else:
            self.fractions.setdefault(stage, 0.0)
        return round(sum(self.fractions.values()) / len(self.fractions), 4)


class Pool:
    """`size` slots taking queued jobs from the store; `changed(job_id)` is told after each change of a job."""

    def __init__(self, store: Store, root: Path, size: int, changed: Callable[[str], None]) -> None:
        self.store = store
        self.root = root
        self.changed = changed
        self.stopping = threading.Event()
        self._wake = threading.Condition()
        self._slots = [_Slot(self, i) for i in range(size)]
        self.running: dict[str, _Slot] = {}

    def start(self) -> None:
        for slot in self._slots:
            slot.start()

    def ready(self) -> bool:
        """Every worker process has started and imported the pipeline."""
        return all(slot.warm.is_set() for slot in self._slots)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def wait(self, timeout: float) -> None:
        with self._wake:
            self._wake.wait(timeout)

    def cancel(self, job_id: str) -> bool:
        """Ask the slot running `job_id` to stop it; False when no slot runs it."""
        slot = self.running.get(job_id)
        if slot is None:
            return False
        slot.cancel_requested.set()
        return True

    def stop(self) -> None:
        """Stop the workers; their jobs stay `running` in the store and are queued again on the next start."""
        self.stopping.set()
        self.wake()
        for slot in self._slots:
            slot.kill()
        for slot in self._slots:
            slot.join(timeout=5)


class _Slot(threading.Thread):
    def __init__(self, pool: Pool, index: int) -> None:
        super().__init__(name=f"sceneglot-slot-{index}", daemon=True)
        self.pool = pool
        self.proc: multiprocessing.process.BaseProcess | None = None
        self.cancel_requested = threading.Event()
        self.warm = threading.Event()
        self._commands = self._events = None

    def run(self) -> None:
        pool = self.pool
        self._spawn()  # started and warmed before the first job, so its first event comes at once
        with contextlib.suppress(EOFError, OSError):
            if self._events.recv() == ("warm",):
                self.warm.set()
        while not pool.stopping.is_set():
            job = pool.store.claim()
            if job is None:
                pool.wait(1.0)
                continue
            self.cancel_requested.clear()
            pool.running[job.id] = self
            pool.changed(job.id)
            try:
                self._run(job)
            finally:
                pool.running.pop(job.id, None)
                pool.changed(job.id)

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a threaded server
        cmd_recv, self._commands = ctx.Pipe(duplex=False)
        self._events, ev_send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_child, args=(cmd_recv, ev_send), name=self.name + "-worker", daemon=True)
        self.proc.start()
        cmd_recv.close()
        ev_send.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=5)
        self.proc = None

    def _run(self, job: JobRow) -> None:
        pool, store = self.pool, self.pool.store
        if self.proc is None or not self.proc.is_alive():
            self._spawn()
        self._commands.send(("run", str(pool.root / job.id), job.input, job.action, job.options))
        cancel_sent: float | None = None
        overall = Overall(job.action)
        while True:
            if self.cancel_requested.is_set() and cancel_sent is None:
                self._commands.send(("cancel",))
                cancel_sent = time.monotonic()
            if cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE:
                self.kill()
                store.finish(job, "cancelled")
                return
            try:
                ready = self._events.poll(0.1)
                msg = self._events.recv() if ready else None
            except (EOFError, OSError):
                msg, ready = None, True
            if msg == ("warm",):  # a process spawned again after a crash has imported the pipeline
                self.warm.set()
            elif msg is not None and msg[0] == "event":
                _, stage, done, total, message = msg
                store.add_event(job, stage, done, total, message, progress=overall.update(stage, done, total))
                pool.changed(job.id)
            elif msg is not None:
                store.finish(job, msg[0], msg[1], seconds=msg[2])
                return
            elif ready or not self.proc.is_alive():  # the worker process is gone
                if pool.stopping.is_set():
                    return  # the server is stopping: the job stays running and is run again on start
                code = self.proc.exitcode
                self.kill()
                if cancel_sent is not None:
                    store.finish(job, "cancelled")
                else:
                    store.finish(job, "failed", f"the worker process stopped unexpectedly (exit code {code})")
                return
