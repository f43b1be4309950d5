"""Rendering + encoding speed against real time, and peak memory against video length.

    python benchmarks/render.py            # table for the shared 720p25 scenes and a 64 s loop of one
    python benchmarks/render.py --preset ultrafast
    python benchmarks/render.py --frames docs  # docs/frame-cut2.png, docs/frame-twoshot.png

Each measurement runs in a fresh process so its peak RSS is its own. Steps:
decode only, decode + draw, decode + draw + encode (H.264 + audio copy, what
`burn` does). Speed is media seconds per wall second ("x real time").
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EVAL = ROOT.parent / "shared" / "eval" / "scenes"


def _scene(clip: Path, loops: int):
    """The truth scene of twoshot/cut2, repeated `loops` times end to end (for the long video)."""
    from sceneglot.media import probe
    from tests import truth

    name = clip.stem.split(".")[0]
    base = truth.scene_from_truth(EVAL / f"{name}.json", truth.PHRASES[name], video_path=EVAL / f"{name}.mp4")
    if loops == 1:
        return base
    import copy

    scene = copy.deepcopy(base)
    scene.media = probe(clip)
    d = base.media.duration
    scene.tracks, scene.segments = [], []
    for k in range(loops):
        for tr in base.tracks:
            t = copy.deepcopy(tr)
            t.id = f"{tr.id}_{k}"
            t.start, t.end = tr.start + k * d, tr.end + k * d
            t.boxes = [[r[0] + k * d, *r[1:]] for r in tr.boxes]
            t.speaking = [[r[0] + k * d, *r[1:]] for r in tr.speaking]
            scene.tracks.append(t)
        for seg in base.segments:
            s = copy.deepcopy(seg)
            s.id = len(scene.segments)
            s.start, s.end = seg.start + k * d, seg.end + k * d
            for w in s.words:
                w.start, w.end = w.start + k * d, w.end + k * d
            scene.segments.append(s)
    for p in scene.persons:
        p.tracks = [t.id for t in scene.tracks if t.person == p.id]
    return scene


def one(clip: Path, step: str, loops: int, preset: str) -> dict:
    from sceneglot import media
    from sceneglot.render.burn import Painter

    scene = _scene(clip, loops)
    t0 = time.perf_counter()
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = use.ru_utime + use.ru_stime
    painter = Painter(scene)
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        writer = (media.VideoWriter(out, scene.media.fps, scene.media.width, scene.media.height,
                                    audio_from=clip if scene.media.has_audio else None, preset=preset)
                  if step == "encode" else None)
        for frame in media.iter_frames(clip):
            image = frame.image
            if step != "decode":
                image = painter.paint(image.copy(), frame.time)
            if writer:
                writer.write(image)
            n += 1
        if writer:
            writer.close()
    wall = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu = use.ru_utime + use.ru_stime - cpu0
    return {"frames": n, "duration": scene.media.duration, "wall": wall, "cpu": cpu, "rss_mb": use.ru_maxrss / 1024}


def _loop_video(src: Path, loops: int, dst: Path) -> Path:
    """A longer real video: the clip's frames `loops` times (silent), written by sceneglot's encoder."""
    from sceneglot import media

    info = media.probe(src)
    with media.VideoWriter(dst, info.fps, info.width, info.height, preset="ultrafast") as w:
        for _ in range(loops):
            for frame in media.iter_frames(src):
                w.write(frame.image)
    return dst


def write_frames(folder: Path) -> None:
    """docs/frame-<clip>.png: one rendered frame per shared scene, 960 px wide, palette PNG (< 300 KB)."""
    import cv2
    from PIL import Image

    from sceneglot import media
    from sceneglot.render.burn import Painter
    from tests import truth

    for name, t in (("cut2", 5.2), ("twoshot", 3.6)):
        scene = truth.scene_from_truth(EVAL / f"{name}.json", truth.PHRASES[name])
        frame = next(media.iter_frames(EVAL / f"{name}.mp4", start=t))
        image = Painter(scene).paint(frame.image.copy(), frame.time)
        small = cv2.resize(image, (960, 540), interpolation=cv2.INTER_AREA)
        pil = Image.fromarray(small[:, :, ::-1]).quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        out = folder / f"frame-{name}.png"
        pil.save(out, optimize=True)
        print(f"{out}: {out.stat().st_size // 1024} KB, t = {frame.time:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="veryfast", help="x264 preset of the encode step (burn uses veryfast)")
    ap.add_argument("--one", nargs=3, metavar=("CLIP", "STEP", "LOOPS"), help=argparse.SUPPRESS)
    ap.add_argument("--frames", metavar="DIR", help="only write the documentation frames into DIR")
    args = ap.parse_args()
    if args.frames:
        write_frames(Path(args.frames))
        return
    if args.one:
        print(json.dumps(one(Path(args.one[0]), args.one[1], int(args.one[2]), args.preset)))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        long_clip = _loop_video(EVAL / "twoshot.mp4", 8, Path(tmp) / "twoshot.x8.mp4")
        runs = [(EVAL / "twoshot.mp4", 1), (EVAL / "cut2.mp4", 1), (long_clip, 8)]
        for clip, loops in runs:
            for step in ("decode", "draw", "encode"):
                cmd = [sys.executable, __file__, "--preset", args.preset, "--one", str(clip), step, str(loops)]
                res = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
                rows.append((clip.name, step, res))
    print(f"render benchmark, 1280x720 25 fps, x264 preset {args.preset}, {_cpus()} CPUs")
    print(f"{'clip':18} {'step':8} {'frames':>6} {'media s':>8} {'wall s':>7} {'fps':>6} {'x real':>7} "
          f"{'CPU s':>6} {'x real/2 CPU-s':>14} {'peak RSS MB':>11}")
    for name, step, r in rows:
        label = {"decode": "decode", "draw": "+draw", "encode": "+encode"}[step]
        print(f"{name:18} {label:8} {r['frames']:>6} {r['duration']:>8.1f} {r['wall']:>7.2f} "
              f"{r['frames'] / r['wall']:>6.1f} {r['duration'] / r['wall']:>7.2f} {r['cpu']:>6.1f} "
              f"{r['duration'] / (r['cpu'] / 2):>14.2f} {r['rss_mb']:>11.0f}")
    print("x real: media seconds per wall second (other jobs share these cores: wall time is inflated);\n"
          "x real/2 CPU-s: the same if this job had both cores to itself (CPU time spread over 2 cores).")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
