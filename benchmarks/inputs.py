"""The long benchmark input: the four shared scenes concatenated, then looped to any length.

Shared by benchmarks/long.py and benchmarks/job.py. The scenes (cut2, cut4, twoshot, dialogue: seven
people, shot changes, turns) are re-encoded once into one file, which is then stream-copied end to
end for as long as asked, so a longer input costs no encode and every minute has the same content.
Files are made in the caller's work folder (never in the repository) and reused.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENES = ROOT.parent / "shared" / "eval" / "scenes"
CLIPS = ["cut2.mp4", "cut4.mp4", "twoshot.mp4", "dialogue.mp4"]


def scenes_once(work: Path) -> Path:
    """The four scenes one after another, H.264 + AAC 48 kHz (made once in `work`)."""
    out = work / "scenes-once.mp4"
    if out.is_file():
        return out
    inputs = [x for c in CLIPS for x in ("-i", str(SCENES / c))]
    n = len(CLIPS)
    graph = "".join(f"[{i}:v][{i}:a]" for i in range(n)) + f"concat=n={n}:v=1:a=1[v][a]"
    tmp = work / "scenes-once.tmp.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-c:a", "aac", "-ar", "48000",
                    str(tmp)], check=True)
    tmp.rename(out)
    return out


def scenes(seconds: int, work: Path) -> Path:
    """`seconds` of the scenes, looped by stream copy (made once in `work`, then reused)."""
    out = work / f"scenes-{seconds}s.mp4"
    if out.is_file():
        return out
    base = scenes_once(work)
    tmp = work / f"scenes-{seconds}s.tmp.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(base), "-t", str(seconds),
                    "-c", "copy", str(tmp)], check=True)
    tmp.rename(out)
    return out
