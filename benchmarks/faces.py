"""Throughput of the faces stage on 720p clips, with a per-step breakdown.

    python benchmarks/faces.py [--repeat 3] [VIDEO ...]

Each clip is analysed `repeat` times and the fastest run is reported (the
machine is shared; the load average printed beside it says how busy it was).
Steps: decode (PyAV + swscale to the detection size), shots (thumbnail
differences), detect (YuNet), track (association), crops (alignment + quality),
identity (interpolation, SFace embeddings, clustering).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sceneglot import media  # noqa: E402
from sceneglot.vision import analyze_faces  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "scenes"
STEPS = ["decode", "shots", "detect", "track", "crops", "identity"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*", default=[str(EVAL / "cut2.mp4"), str(EVAL / "twoshot.mp4")])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    header = f"{'clip':<14}{'size':>10}{'frames':>7}" + "".join(f"{s:>9}" for s in STEPS)
    header += f"{'loop s':>8}{'wall s':>8}{'fps':>7}{'load':>6}"
    print("ms per frame by step; loop = the streamed pass + identity; wall = the whole call incl. probe and")
    print("model loading; fps = frames / wall (best of runs); load = 1-min load average before the run")
    print(header)
    total_frames = total_time = 0.0
    for video in args.videos:
        info = media.probe(video)
        best = None
        for _ in range(args.repeat):
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            r = analyze_faces(video)
            wall = time.perf_counter() - t0
            if best is None or wall < best[2]:
                best = (r, load, wall)
        r, load, wall = best
        tm, n = r.timings, r.frames
        row = f"{Path(video).name:<14}{f'{info.width}x{info.height}':>10}{n:>7}"
        row += "".join(f"{1000 * tm[s] / n:>9.2f}" for s in STEPS)
        row += f"{tm['total']:>8.2f}{wall:>8.2f}{n / wall:>7.1f}{load:>6.1f}"
        print(row)
        total_frames += n
        total_time += wall
    print(f"overall: {total_frames / total_time:.1f} frames/s on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
