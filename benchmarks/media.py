"""Decode and encode speed at 720p, and peak memory of streaming decode.

    python benchmarks/media.py [VIDEO]      (default ../shared/eval/scenes/cut2.mp4)
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from sceneglot import media

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "eval" / "scenes" / "cut2.mp4"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    video = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    info = media.probe(video)
    rows = []

    base = rss_mb()
    t0 = time.perf_counter()
    n = sum(1 for _ in media.iter_frames(video))
    dt = time.perf_counter() - t0
    rows.append(("decode to BGR", n, n / dt, rss_mb(), rss_mb() - base))

    t0 = time.perf_counter()
    n = sum(1 for _ in media.iter_frames(video, fps=25, size=(640, 360)))
    dt = time.perf_counter() - t0
    rows.append(("decode 25 fps @640x360", n, n / dt, rss_mb(), 0.0))

    frames = [f.image for f in media.iter_frames(video, end=2.0)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        t0 = time.perf_counter()
        count = 0
        with media.VideoWriter(out, info.fps, info.width, info.height, audio_from=video) as writer:
            for i in range(info.frame_count or 320):
                writer.write(frames[i % len(frames)])
                count += 1
        dt = time.perf_counter() - t0
        rows.append(("encode H.264 veryfast + audio copy", count, count / dt, rss_mb(), 0.0))

    print(f"input: {video.name} {info.width}x{info.height} {info.fps:g} fps {info.duration:g} s")
    print(f"{'step':<36} {'frames':>7} {'frames/s':>9} {'peak RSS MB':>12}")
    for name, count, speed, peak, _ in rows:
        print(f"{name:<36} {count:>7} {speed:>9.1f} {peak:>12.0f}")
    print(f"peak RSS growth over a full 720p decode: {rows[0][4]:.0f} MB (flat = independent of length)")


if __name__ == "__main__":
    main()
