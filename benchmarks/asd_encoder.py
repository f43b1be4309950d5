"""Light-ASD's encoders as the asd stage runs them: CPU and peak memory per track length, and the soundtrack pass.

    python benchmarks/asd_encoder.py [--threads N] [LENGTH ...]   (default 80 100 101 250 1500; ~3 min at load 17)

Per track length (frames at 25 fps): one av.asd.FeatureStream over real crops (twoshot.mp4's left face,
features.crop_face on the 25-fps grey frames, repeated to the length) with the encoder session as shipped
(a track of at most asd.WHOLE frames in one call, else asd.CHUNK at a time with asd.CONTEXT either side;
onnxruntime's arena on, memory pattern off), each length in a fresh process. Columns: encoder calls,
process CPU ms per frame, the peak resident memory above what the process held before the track (VmHWM
after clear_refs; Linux only) and what it still holds after (the session's arena: freed with the stage).
Then the audio encoder over twoshot's whole soundtrack in asd.AUDIO_CHUNK-frame calls (asd.soundtrack_audio,
the rows av.sync compares): CPU ms per second of audio, against the visual+audio encoders' per frame.
Load averages are printed: other jobs inflate CPU too (thread pools spin); compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
os.environ.setdefault("SCENEGLOT_MODEL_PATH", str(SHARED / "models"))

from sceneglot import media  # noqa: E402
from sceneglot.av import asd, features  # noqa: E402

TWOSHOT = SHARED / "eval" / "scenes" / "twoshot.mp4"
BOX = (192, 205, 410, 505)  # the left man's face on twoshot.mp4 (as tests/test_av_asd.py)


def _memory() -> tuple[float, float]:
    """(resident, peak resident) MiB of this process."""
    with open("/proc/self/status") as fh:
        fields = dict(line.split(":", 1) for line in fh)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _inputs():
    x0, y0, x1, y1 = BOX
    crops = np.stack([features.crop_face(f.image, (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2)
                      for f in media.iter_frames(TWOSHOT, fps=features.FPS, grey=True)])
    sound = media.read_audio(TWOSHOT)
    return crops, sound, features.mfcc(sound)


def one(n: int, threads: int) -> None:
    """One track of `n` frames in this (fresh) process: prints its row."""
    crops, _, mfcc = _inputs()
    engine = asd.Engine("onnxruntime", threads=threads)
    calls = []
    encoders = engine.encoders
    engine.encoders = lambda a, v: calls.append(len(v)) or encoders(a, v)  # counts calls, runs them
    asd.Engine.encode(engine, mfcc[:8], crops[:2])  # sessions loaded (a 2-frame call) before anything is measured
    idx = np.arange(n) % len(crops)
    audio = np.tile(mfcc[: 4 * len(crops)], (-(-n // len(crops)), 1))[: 4 * n]
    calls.clear()
    _reset_peak()
    base, _ = _memory()
    t = time.process_time()
    stream = asd.FeatureStream(engine, audio, visual=True)
    for i in idx:
        stream.push(crops[i])
    stream.finish()
    stream.visual_rows()
    cpu = time.process_time() - t
    resident, peak = _memory()
    print(f"{n:>7} {len(calls):>6} {cpu / n * 1000:>13.1f} {peak - base:>9.0f} {resident - base:>9.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lengths", nargs="*", type=int, default=[80, 100, 101, 250, 1500])
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all cores, as after speech)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one length, in a fresh process
    args = parser.parse_args()
    if args.one is not None:
        return one(args.one, args.threads)
    print(f"load avg {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs, threads {args.threads}; "
          f"WHOLE {asd.WHOLE}, CHUNK {asd.CHUNK}, CONTEXT {asd.CONTEXT}; one process per length", flush=True)
    print(f"{'frames':>7} {'calls':>6} {'CPU ms/frame':>13} {'peak MiB':>9} {'held MiB':>9}", flush=True)
    for n in args.lengths:
        subprocess.run([sys.executable, __file__, "--one", str(n), "--threads", str(args.threads)], check=True)
    _, sound, _ = _inputs()
    engine = asd.Engine("onnxruntime", threads=args.threads)
    asd.soundtrack_audio(engine, sound[:16000])
    t = time.process_time()
    for _ in range(3):
        asd.soundtrack_audio(engine, sound)
    cpu = (time.process_time() - t) / 3
    print(f"soundtrack audio encoder: {cpu / (len(sound) / media.SAMPLE_RATE) * 1000:.1f} CPU ms per second of audio "
          f"(twoshot, {len(sound) / media.SAMPLE_RATE:.1f} s; a second is 25 frames); "
          f"load avg {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
