"""Diarization benchmark: DER (miss / false alarm / confusion), speaker count and speed per file.

    python benchmarks/diarization.py [--no-memory | --memory-only]

Files: diarization/sample.wav and the ten AMI excerpts trn00-trn09 (their RTTM and UEM), scored with
sceneglot.speech.metrics (NIST DER, no collar, overlapped speech scored). The settings in
speech/diarize.py were chosen on sample.wav and trn00/02/04/06/08 ("tune"); trn01/03/05/07/09
("held out") were not looked at while choosing, and are pooled apart.

Two limits are printed beside each file's DER, both without collar and with overlap scored, as the
DER is: "floor" is the miss + false alarm that the per-frame speaker count of segmentation-3.0 (how
many talk: speech/overlap thresholds in speech/diarize.py) leaves with every speaker named perfectly
(on its 16.9 ms frame grid; "3+" is the part where the reference has more than the network's two);
"named" is the full pipeline's DER when each chunk's local speakers are named from the reference
(Hungarian on frame overlap) instead of by clustering: what perfect clustering would reach.
"heard" is how many reference speakers the network tells apart at all: those that some chunk's local
speaker, matched by that Hungarian step, follows for at least HEARD s (a count no clustering of
these local speakers can honestly exceed; the last line sums the files where it equals the true count).
The "best thresholds" line scans the two count thresholds on a 0.05 grid for the lowest pooled floor
over the ten excerpts, chosen with their reference: how low any setting of those two could go.

RTF = diarization seconds / audio seconds with the models loaded; "cpu" is process CPU time (the
method runs onnxruntime on one thread, so on an idle 2-core machine wall time ~ CPU time). The memory rows
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
HEARD = 0.25  # s a local speaker must follow a reference speaker for the network to have heard them


def _files() -> list[tuple[str, Path]]:
    return [("sample", EVAL / "sample.wav")] + [(u, AMI / f"{u}.wav") for u in sorted(TUNE + HELD_OUT)]


def _reference(uri: str):
    from sceneglot.speech.metrics import read_rttm, read_uem

    if uri == "sample":
        return read_rttm(EVAL / "sample.rttm"), None
    return read_rttm(AMI / "ami_train.rttm", uri), read_uem(AMI / "ami_train.uem", uri)


def _measure(queue) -> None:
    """Diarize every file in this process (models loaded once) and report turns, timings and limits."""
    from sceneglot.media import read_audio
    from sceneglot.speech import campplus, segmentation
    from sceneglot.speech.diarize import analyse, speaker_turns

    segmentation.load()
    campplus.load()
    for uri, path in _files():
        audio = read_audio(path)
        t0, c0 = time.perf_counter(), time.process_time()
        seg = analyse(audio)  # what diarize(audio) runs, keeping the analysis for the limits below
        turns = speaker_turns(seg)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        queue.put((uri, turns, wall, cpu, len(audio) / 16000, *_limits(uri, seg)))
    queue.put(None)


def _reference_frames(seg, ref) -> np.ndarray:
    """(frames, reference speakers) bool: who the reference says talks at each global frame's centre."""
    from sceneglot.speech import segmentation

    names = sorted({t.speaker for t in ref})
    centre = (np.arange(len(seg.speech)) * segmentation.FRAME_STEP + segmentation.FRAME_SPAN / 2) / 16000
    out = np.zeros((len(centre), max(1, len(names))), bool)
    for t in ref:
        out[(centre >= t.start) & (centre < t.end), names.index(t.speaker)] = True
    return out


def _limits(uri: str, seg) -> tuple[float, float, float, object, int, tuple]:
    """(count floor miss, its 3+ part, count floor false alarm) as fractions of reference speaker time on
    the frame grid, the DerParts of the pipeline with each chunk's local speakers named from the
    reference, how many reference speakers some local speaker follows for at least HEARD s, and
    (reference speakers per frame, mean P(speech), mean P(overlap)) for the threshold scan."""
    from scipy.optimize import linear_sum_assignment

    from sceneglot.speech import segmentation
    from sceneglot.speech.diarize import _global_index, activity_turns, aggregate, speaker_count
    from sceneglot.speech.metrics import der_parts

    ref, uem = _reference(uri)
    truth = _reference_frames(seg, ref)
    r, h = truth.sum(1), speaker_count(seg)
    total = max(1, r.sum())
    floor = (np.maximum(r - h, 0).sum() / total, np.maximum(r - 2, 0).sum() / total,
             np.maximum(h - r, 0).sum() / total)
    assign = {}
    heard = np.zeros(truth.shape[1])
    for c, s0 in enumerate(seg.starts):
        li, gi = _global_index(s0, seg.activity.shape[1], seg.n_samples)
        keep = gi < len(truth)
        act = seg.activity[c][li[keep]].astype(float)
        agree = act.T @ truth[gi[keep]].astype(float)
        for j, g in zip(*linear_sum_assignment(-agree), strict=True):
            if act[:, j].any():
                assign[(c, int(j))] = int(g)
                heard[g] = max(heard[g], agree[j, g] * segmentation.FRAME_STEP / segmentation.SAMPLE_RATE)
    named = activity_turns(aggregate(seg, assign, truth.shape[1]), seg.n_samples)
    return (*floor, der_parts(ref, named, uem), int((heard >= HEARD).sum()), (r, seg.speech, seg.overlap))


def _best_thresholds(frames: list[tuple]) -> tuple[float, float, float]:
    """(lowest pooled count floor, its speech threshold, its overlap threshold) over a 0.05 grid."""
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2)
    total = sum(r.sum() for r, _, _ in frames)
    best = (np.inf, 0.0, 0.0)
    for ts in grid:
        for to in grid:
            err = sum(np.abs(r - (sp > ts) * (1 + (ov > to))).sum() for r, sp, ov in frames)
            best = min(best, (err / total, float(ts), float(to)))
    return best


def _memory(seconds: int, queue) -> None:
    from sceneglot.media import read_audio
    from sceneglot.speech import campplus, segmentation
    from sceneglot.speech.diarize import diarize

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
          f"{'heard':>5} {'floor %':>7} {'(3+ %)':>6} {'named %':>7} {'audio s':>7} {'RTF':>6} {'RTF cpu':>7}")
    pools: dict[str, list] = {}
    right = ceiling = 0
    wall = cpu = dur = 0.0
    frames = []
    for uri, turns, w, c, d, f_miss, f_cap, f_fa, named, heard, counts in rows:
        ref, uem = _reference(uri)
        p = der_parts(ref, turns, uem)
        found, true = len({t.speaker for t in turns}), len({t.speaker for t in ref})
        split = "tune" if uri in TUNE or uri == "sample" else "held out"
        if uri != "sample":
            right += found == true
            ceiling += heard == true
            frames.append(counts)
            for name in ("AMI all", f"AMI {split}"):
                pool = pools.setdefault(name, [None, None, 0.0, 0.0, 0.0])
                pool[0] = p if pool[0] is None else pool[0] + p
                pool[1] = named if pool[1] is None else pool[1] + named
                for i, v in enumerate((f_miss, f_cap, f_fa)):  # frame-grid floors, pooled by speaker time
                    pool[2 + i] += v * p.total
        wall, cpu, dur = wall + w, cpu + c, dur + d
        print(f"{uri:8} {split:8} {100 * p.der:6.1f} {100 * p.miss / p.total:6.1f} "
              f"{100 * p.false_alarm / p.total:6.1f} {100 * p.confusion / p.total:6.1f} {f'{found}/{true}':>14} "
              f"{heard:5d} {100 * (f_miss + f_fa):7.1f} {100 * f_cap:6.1f} {100 * named.der:7.1f} "
              f"{d:7.1f} {w / d:6.3f} {c / d:7.3f}")
    for name in ("AMI tune", "AMI held out", "AMI all"):
        p, named, f_miss, f_cap, f_fa = pools[name]
        print(f"{name:17} {100 * p.der:6.1f} {100 * p.miss / p.total:6.1f} {100 * p.false_alarm / p.total:6.1f} "
              f"{100 * p.confusion / p.total:6.1f} {'':14} {'':5} {100 * (f_miss + f_fa) / p.total:7.1f} "
              f"{100 * f_cap / p.total:6.1f} {100 * named.der:7.1f}")
    floor, ts, to = _best_thresholds(frames)
    print(f"best thresholds (chosen on all ten with their reference): count floor {100 * floor:.1f} % at "
          f"P(speech) > {ts:.2f}, P(overlap) > {to:.2f}")
    print(f"speaker count right on {right}/10 AMI excerpts (every speaker heard on {ceiling}/10); "
          f"RTF over all files {wall / dur:.3f} wall, "
          f"{cpu / dur:.3f} CPU (one thread); cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
