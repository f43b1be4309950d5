"""Diarization benchmark: DER (miss / false alarm / confusion), speaker count and speed per file.

    python benchmarks/diarization.py [--no-memory | --memory-only]

Files: diarization/sample.wav and the ten AMI excerpts trn00-trn09 (their RTTM and UEM), scored with
sceneglot.speech.metrics (NIST DER, no collar, overlapped speech scored). The settings in
speech/diarize.py were chosen on sample.wav and trn00/02/04/06/08 ("tune"); trn01/03/05/07/09
("held out") were not looked at while choosing, and are pooled apart.

RTF = diarization seconds / audio seconds with the models loaded; "cpu" is process CPU time (the
method runs torch on one thread, so on an idle 2-core machine wall time ~ CPU time). The memory rows
run the default method on 60 s and on the ten excerpts joined (300 s) in fresh processes (both long
enough for full 30 s streaming blocks, whose working set is the same at any length): peak RSS minus
the audio array itself shows what grows with length. A shared machine inflates wall times.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "diarization"
AMI = EVAL / "ami"
TUNE = ("trn00", "trn02", "trn04", "trn06", "trn08")
HELD_OUT = ("trn01", "trn03", "trn05", "trn07", "trn09")


def _files() -> list[tuple[str, Path]]:
    return [("sample", EVAL / "sample.wav")] + [(u, AMI / f"{u}.wav") for u in sorted(TUNE + HELD_OUT)]


def _reference(uri: str):
    from sceneglot.speech.metrics import read_rttm, read_uem

    if uri == "sample":
        return read_rttm(EVAL / "sample.rttm"), None
    return read_rttm(AMI / "ami_train.rttm", uri), read_uem(AMI / "ami_train.uem", uri)


def _measure(queue) -> None:
    """Diarize every file in this process (models loaded once) and report turns and timings."""
    from sceneglot.media import read_audio
    from sceneglot.speech import campplus, diarize, segmentation

    segmentation.load()
    campplus.load()
    for uri, path in _files():
        audio = read_audio(path)
        t0, c0 = time.perf_counter(), time.process_time()
        turns = diarize(audio)
        queue.put((uri, turns, time.perf_counter() - t0, time.process_time() - c0, len(audio) / 16000))
    queue.put(None)


def _memory(seconds: int, queue) -> None:
    from sceneglot.media import read_audio
    from sceneglot.speech import campplus, diarize, segmentation

    audio = np.concatenate([read_audio(AMI / f"trn0{i}.wav") for i in range(10)])[:seconds * 16000]
    segmentation.load()
    campplus.load()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    diarize(audio)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, before, peak, audio.nbytes / 2**20))


def _spawn(target, *args):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    return proc, queue


def main(argv: list[str]) -> int:
    if "--memory-only" not in argv:
        _quality()
    if "--no-memory" not in argv:
        for seconds in (60, 300):
            proc, queue = _spawn(_memory, seconds)
            s, before, peak, audio_mb = queue.get()
            proc.join()
            print(f"memory, {s:3d} s of AMI: peak RSS {peak:.0f} MB (models + audio loaded: {before:.0f} MB; "
                  f"audio array {audio_mb:.0f} MB)")
    return 0


def _quality() -> None:
    from sceneglot.speech.metrics import der_parts

    proc, queue = _spawn(_measure)
    rows = []
    while (item := queue.get()) is not None:
        rows.append(item)
    proc.join()
    print(f"{'file':8} {'split':8} {'DER %':>6} {'miss %':>6} {'FA %':>6} {'conf %':>6} {'spk found/true':>14} "
          f"{'audio s':>7} {'RTF':>6} {'RTF cpu':>7}")
    pools: dict[str, object] = {}
    right = 0
    wall = cpu = dur = 0.0
    for uri, turns, w, c, d in rows:
        ref, uem = _reference(uri)
        p = der_parts(ref, turns, uem)
        found, true = len({t.speaker for t in turns}), len({t.speaker for t in ref})
        split = "tune" if uri in TUNE or uri == "sample" else "held out"
        if uri != "sample":
            right += found == true
            for name in ("AMI all", f"AMI {split}"):
                pools[name] = p if name not in pools else pools[name] + p
        wall, cpu, dur = wall + w, cpu + c, dur + d
        print(f"{uri:8} {split:8} {100 * p.der:6.1f} {100 * p.miss / p.total:6.1f} "
              f"{100 * p.false_alarm / p.total:6.1f} {100 * p.confusion / p.total:6.1f} {f'{found}/{true}':>14} "
              f"{d:7.1f} {w / d:6.3f} {c / d:7.3f}")
    for name in ("AMI tune", "AMI held out", "AMI all"):
        p = pools[name]
        print(f"{name:17} {100 * p.der:6.1f} {100 * p.miss / p.total:6.1f} {100 * p.false_alarm / p.total:6.1f} "
              f"{100 * p.confusion / p.total:6.1f}")
    print(f"speaker count right on {right}/10 AMI excerpts; RTF over all files {wall / dur:.3f} wall, "
          f"{cpu / dur:.3f} CPU (one thread); cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
