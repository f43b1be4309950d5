"""Run a job's stages as Ray tasks (`--ray ADDRESS|auto`): Ray is one more executor of the same `Job`.

The pipeline (pipeline.analyze) decides the stage order, the job folder's cache
and the events exactly as for a local run; it hands each stage's computation to
an executor. `RayExecutor` sends it to the cluster as a task with declared
resources (`num_cpus`; `num_gpus` for the stages that use CUDA, when the cluster
has GPUs), so several jobs, from several submitters, share the cluster through
Ray's scheduler. What a task needs travels with it: the job record (a dict),
the probe, records from earlier stages (face tracks), and the input's bytes in
the object store (64 MiB pieces put once per job). A node uses the submitter's
path only when the same file is there (same fingerprint); otherwise it writes
the pieces to a node-local copy once and every task on that node reads it. The
results come back as records; the submitter stores them in the job folder.

This module is imported only when --ray is given: nothing else imports Ray.
Every node needs the same sceneglot version and its models (the model store on
that node, e.g. $SCENEGLOT_MODEL_PATH); a task refuses a node whose version
differs, since the job folder's cache keys include the version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from . import __version__, jobs
from .errors import BackendError, SceneglotError
from .jobs import Job

PIECE = 64 << 20  # bytes per object-store piece of the input
GPU_STAGES = frozenset({"asr"})  # stages whose models run on CUDA when a GPU is there (faster-whisper)
POLL = 0.25  # seconds between cancel checks while a task runs


def connect(address: str) -> None:
    """Join the cluster at `address`: HOST:PORT, "auto" (what `ray start` made here) or "ray://HOST:PORT"."""
    if ray.is_initialized():
        return
    _check_reachable(address)
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False, include_dashboard=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendError(f"cannot join the Ray cluster at {address}: {first}") from None


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """A HOST:PORT nobody answers on fails now, in one line (Ray itself retries for minutes)."""
    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as exc:
        raise BackendError(f"cannot join the Ray cluster at {address}: {exc.strerror or exc}") from None


class RayExecutor:
    """Runs each stage of a job as a Ray task; pass it to `jobs.run_job(..., executor=)`.

    `cpus`: CPUs a task declares (and the threads it then uses). Create one per job:
    it keeps that job's input in the object store until `close()`.
    """

    shares_cores = False  # a task has its own declared CPUs: no thread hand-over between stages

    def __init__(self, address: str = "auto", cpus: int = 1) -> None:
        connect(address)
        self.cpus = max(1, int(cpus))
        self.gpus = ray.cluster_resources().get("GPU", 0) >= 1
        self._inputs: dict[str, tuple[str, list[ray.ObjectRef]]] = {}

    def close(self) -> None:
        self._inputs.clear()  # the last references: the object store may free the pieces

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def width(self) -> int:
        """Tasks of one stage the cluster holds side by side: its CPUs over a task's (run_asd splits by it)."""
        return max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus))

    def _input(self, path: str) -> tuple[str, list[ray.ObjectRef]]:
        if path not in self._inputs:
            key = jobs.fingerprint(path)
            refs = []
            with open(path, "rb") as fh:
                while piece := fh.read(PIECE):
                    refs.append(ray.put(piece))
            self._inputs[path] = (key, refs)
        return self._inputs[path]

    def options(self, stage: str) -> dict[str, Any]:
        """The resources a stage's task declares."""
        opts: dict[str, Any] = {"num_cpus": self.cpus, "name": f"sceneglot-{stage}", "max_retries": 1}
        if self.gpus and stage in GPU_STAGES:
            opts["num_gpus"] = 1
        return opts

    def __call__(self, stage: str, fn: Callable[..., Any], job: Job, info: Any, audio: Any, *args: Any) -> Any:
        """`fn(job, info, audio, *args)` on the cluster (`audio` is rebuilt there from the input)."""
        return self.map(stage, fn, job, info, audio, [args])[0]

    def map(self, stage: str, fn: Callable[..., Any], job: Job, info: Any, audio: Any,
            items: list[tuple]) -> list[Any]:
        """`fn(job, info, audio, *item)` for every item, each its own task, all submitted at once (the
        windows of a long input): the scheduler runs as many side by side as the cluster has CPUs for."""
        key, refs = self._input(job.input)
        job_data, info_data, opts = job.to_dict(), dataclasses.asdict(info), self.options(stage)
        tasks = [_stage_task.options(**opts).remote(fn, job_data, info_data, key, refs, release(), *item)
                 for item in items]
        return wait_all(tasks)


def release() -> str:
    """The running sceneglot: its version and the digest of its whole source (codekey.package)."""
    from . import codekey

    return f"{__version__}+{codekey.package()}"


def wait(ref: ray.ObjectRef) -> Any:
    """The task's result; checks the job's cancel token meanwhile (a cancelled job cancels its task)."""
    return wait_all([ref])[0]


def wait_all(refs: list[ray.ObjectRef]) -> list[Any]:
    """The tasks' results in order; the job's cancel token is checked meanwhile (a cancelled job, or a
    failed task, cancels the tasks still running)."""
    pending = list(refs)
    try:
        while pending:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL)
            if pending:
                jobs.step(0)  # raises Cancelled when the job was cancelled
        return ray.get(list(refs))
    except (jobs.Cancelled, ray.exceptions.RayTaskError) as exc:
        for ref in pending:
            ray.cancel(ref, force=True)
        cause = getattr(exc, "cause", None)
        if isinstance(cause, SceneglotError):
            raise cause from None
        raise


def local_input(path: str, key: str, refs: list[ray.ObjectRef], cache: Path | None = None) -> Path:
    """The input on this node: the submitter's path when the same file is here, else a node-local copy.

    The copy is written once per node (a file lock makes concurrent tasks wait for the first)
    to CACHE/KEY/NAME, from the object-store pieces, under a temporary name then renamed.
    """
    here = Path(path)
    with contextlib.suppress(OSError):
        if here.is_file() and jobs.fingerprint(here) == key:
            return here
    folder = (cache or Path(tempfile.gettempdir()) / "sceneglot-ray-inputs") / key
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (here.name or "input")
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():
            tmp = target.with_name(f".{target.name}.part")
            with open(tmp, "wb") as out:
                for ref in refs:
                    out.write(ray.get(ref))
            tmp.replace(target)
    return target


def _threads(n: int) -> None:
    """Native libraries use the CPUs the task declared, not every core of the node.

    (Ray starts workers with OMP_NUM_THREADS set to the task's CPUs; Whisper's CPU decoding
    follows it, so a local run gives the same text with the same OMP_NUM_THREADS.)
    """
    os.environ["SCENEGLOT_THREADS"] = str(n)
    with contextlib.suppress(ImportError):
        import cv2

        cv2.setNumThreads(n)


@ray.remote
def _stage_task(fn: Callable[..., Any], job_data: dict[str, Any], info_data: dict[str, Any], key: str,
                refs: list[ray.ObjectRef], version: str, *args: Any) -> Any:
    if version != release():  # the driver keys its stage caches by its own code (codekey): a node's must match
        raise BackendError(f"this Ray node runs sceneglot {release()}, the job was submitted by {version}")
    from .pipeline import lazy_audio
    from .scene import MediaInfo

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    _threads(max(1, round(cpus)))
    job = Job.from_dict(job_data)
    path = local_input(job.input, key, refs)
    job.input = str(path)
    info = MediaInfo(**{**info_data, "path": str(path)})
    return fn(job, info, lazy_audio(path, info, seek=True), *args)  # a window's task seeks to its audio


__all__ = ["GPU_STAGES", "RayExecutor", "connect", "local_input", "wait", "wait_all"]
