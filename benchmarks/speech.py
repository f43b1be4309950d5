"""Speech benchmark: WER (jfk.flac), DER and speaker count (sample.wav), RTF and peak RSS per stage.

Diarization rows: "diarization" is the default overlap-aware method (pyannote
segmentation-3.0 + CAM++), "diarization (embedding)" the earlier one-speaker-per-moment one.

    python benchmarks/speech.py

Each stage runs in a fresh process so its peak RSS is its own (models included).
RTF = processing seconds / audio seconds with the models already loaded (load
time is listed apart). The "60 s" rows run on sample.wav twice over (60 s, two
speakers). Timings on a shared machine are inflated by other jobs' load.
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

EVAL = ROOT.parent / "shared" / "eval"
JFK = EVAL / "speech" / "jfk.flac"
DIAR = EVAL / "diarization" / "sample.wav"


def _audio(name: str) -> np.ndarray:
    from sceneglot.media import read_audio

    if name == "jfk":
        return read_audio(JFK)
    a = read_audio(DIAR)
    return a if name == "sample" else np.concatenate([a, a])


def _stage(kind: str, name: str, queue) -> None:
    from sceneglot.speech import asr, campplus, segmentation
    from sceneglot.speech.diarize import diarize

    audio = _audio(name)
    t0 = time.perf_counter()
    if kind == "asr":
        asr.load_model(asr.AsrOptions().model)  # the model transcribe() uses ($SCENEGLOT_WHISPER too)
    else:
        campplus.load()
        segmentation.load()
    loaded = time.perf_counter()
    cpu0 = time.process_time()
    if kind == "asr":
        result = asr.transcribe(audio)
    else:
        result = diarize(audio, method="embedding" if kind == "diar-emb" else "segmentation")
    done = time.perf_counter()
    cpu = time.process_time() - cpu0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((result, loaded - t0, done - loaded, len(audio) / 16000, rss_mb, cpu))


def run(kind: str, name: str):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_stage, args=(kind, name, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main() -> int:
    from sceneglot.speech.metrics import der, read_rttm, wer

    rows = []
    segs, load, proc, dur, rss, cpu = run("asr", "jfk")
    hyp = " ".join(s.text for s in segs)
    score = wer(JFK.with_suffix(".txt").read_text(), hyp)
    rows.append(("ASR jfk.flac", f"WER {100 * score:.1f} %", load, proc, dur, rss, cpu))
    turns, load, proc, dur, rss, cpu = run("diar", "sample")
    score = der(read_rttm(DIAR.with_suffix(".rttm")), turns)
    k = len({t.speaker for t in turns})
    rows.append(("diarization sample.wav", f"DER {100 * score:.1f} %, {k} speakers (truth 2)", load, proc, dur, rss,
                 cpu))
    turns, load, proc, dur, rss, cpu = run("diar-emb", "sample")
    score = der(read_rttm(DIAR.with_suffix(".rttm")), turns)
    k = len({t.speaker for t in turns})
    rows.append(("diar. (embedding) sample", f"DER {100 * score:.1f} %, {k} speakers (truth 2)", load, proc, dur,
                 rss, cpu))
    a60 = run("asr", "sample60")
    d60 = run("diar", "sample60")
    rows.append(("ASR 60 s", f"{len(a60[0])} segments", *a60[1:]))
    rows.append(("diarization 60 s", f"{len({t.speaker for t in d60[0]})} speakers", *d60[1:]))
    both = (a60[2] + d60[2]) / a60[3]
    # CPU seconds / (2 cores x audio s): the RTF an otherwise idle 2-core machine would see (at best;
    # for the single-threaded diarization rows divide by 1, not 2).
    cores = min(2, os.cpu_count() or 1)
    print(f"{'stage':24} {'quality':34} {'load s':>7} {'run s':>7} {'audio s':>8} {'RTF':>6} {'cpu s':>7} "
          f"{'RTF idle2':>9} {'peak RSS MB':>12}")
    for name, quality, load, proc, dur, rss, cpu in rows:
        print(f"{name:24} {quality:34} {load:7.2f} {proc:7.2f} {dur:8.1f} {proc / dur:6.3f} {cpu:7.2f} "
              f"{cpu / cores / dur:9.3f} {rss:12.0f}")
    # The overlap-aware diarization runs torch on one thread, so its CPU seconds count in full.
    idle = (a60[5] / cores + d60[5]) / a60[3]
    print(f"ASR + diarization on 60 s: RTF {both:.3f} wall, {idle:.3f} from CPU time (target <= 0.5); peak RSS max "
          f"{max(a60[4], d60[4]):.0f} MB (target <= 1536); cpu count {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("hypothesis (jfk):", hyp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
