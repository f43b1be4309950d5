"""Rendering + encoding speed against real time, per quality, and peak memory against video length.

    python benchmarks/render.py            # the shared 720p25 scenes and a 64 s loop of one (~4 min idle)
    python benchmarks/render.py --quick    # twoshot and cut2 only (~1 min idle)
    python benchmarks/render.py --frames docs  # docs/frame-cut2.png, docs/frame-twoshot.png

Each measurement runs in a fresh process so its peak RSS is its own. Steps:
decode (frames as decoded, no conversion), + draw (the overlays blended into
YUV copies of the frames that show text), render at each --quality (what
`burn` does: decode thread, draw, encode with the audio copied), and the plain
transcode of the same input (decode -> libx264 veryfast crf 20, audio copied:
the floor any burned-in render pays). Speed is media seconds per wall second
("x real time"); "/ transcode" is the render's wall time over the transcode's.
"""

from __future__ import annotations

import argparse
import json
import os
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


def one(clip: Path, step: str, loops: int) -> dict:
    from sceneglot import media
    from sceneglot.render import burn, yuv

    scene = _scene(clip, loops)
    t0 = time.perf_counter()
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = use.ru_utime + use.ru_stime
    n = 0
    size = os.path.getsize(clip)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        if step.startswith("render:"):
            n = burn.render_video(burn.Painter(scene), clip, out, quality=step.split(":")[1])
            size = out.stat().st_size
        elif step == "transcode":
            info = media.probe(clip)
            with media.VideoWriter(out, info.fps, info.width, info.height,
                                   audio_from=clip if info.has_audio else None) as writer:
                for frame in media.iter_frames(clip, raw=True):
                    writer.write_frame(frame.image)
                    n += 1
            size = out.stat().st_size
        else:
            over = burn.YuvPainter(burn.Painter(scene), scene.media.width, scene.media.height) \
                if step == "draw" else None
            for frame in media.iter_frames(clip, raw=True):
                tiles = over.tiles(frame.time) if over else []
                if tiles:
                    drawn = yuv.drawable(frame.image, scene.media.width, scene.media.height)
                    planes = yuv.planes(drawn)
                    for tile in tiles:
                        yuv.blend(planes, tile)
                n += 1
    wall = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu = use.ru_utime + use.ru_stime - cpu0
    return {"frames": n, "duration": scene.media.duration, "wall": wall, "cpu": cpu, "rss_mb": use.ru_maxrss / 1024,
            "mb": size / 1e6}


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


STEPS = ["decode", "draw", "render:fast", "render:balanced", "render:best", "transcode"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the two shared scenes only, not the 64 s loop")
    ap.add_argument("--one", nargs=3, metavar=("CLIP", "STEP", "LOOPS"), help=argparse.SUPPRESS)
    ap.add_argument("--frames", metavar="DIR", help="only write the documentation frames into DIR")
    args = ap.parse_args()
    if args.frames:
        write_frames(Path(args.frames))
        return
    if args.one:
        print(json.dumps(one(Path(args.one[0]), args.one[1], int(args.one[2]))))
        return
    rows = []
    print("load avg", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(EVAL / "twoshot.mp4", 1), (EVAL / "cut2.mp4", 1)]
        if not args.quick:
            runs.append((_loop_video(EVAL / "twoshot.mp4", 8, Path(tmp) / "twoshot.x8.mp4"), 8))
        for clip, loops in runs:
            for step in STEPS:
                cmd = [sys.executable, __file__, "--one", str(clip), step, str(loops)]
                res = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
                rows.append((clip.name, step, res))
    print(f"render benchmark, 1280x720 25 fps, {_cpus()} CPUs; encoder: {_encoder()}")
    print(f"{'clip':18} {'step':16} {'frames':>6} {'media s':>8} {'wall s':>7} {'x real':>7} {'CPU s':>6} "
          f"{'x real/2 CPU-s':>14} {'/ transcode':>11} {'MB out':>7} {'peak RSS MB':>11}")
    transcode = {name: r["wall"] for name, step, r in rows if step == "transcode"}
    for name, step, r in rows:
        label = {"decode": "decode", "draw": "+draw"}.get(step, step)
        ratio = f"{r['wall'] / transcode[name]:.2f}" if step.startswith("render") else ""
        print(f"{name:18} {label:16} {r['frames']:>6} {r['duration']:>8.1f} {r['wall']:>7.2f} "
              f"{r['duration'] / r['wall']:>7.2f} {r['cpu']:>6.1f} {r['duration'] / (r['cpu'] / 2):>14.2f} "
              f"{ratio:>11} {r['mb']:>7.2f} {r['rss_mb']:>11.0f}")
    print("x real: media seconds per wall second (other jobs share these cores: wall time is inflated);\n"
          "x real/2 CPU-s: the same if this job had both cores to itself (CPU time spread over 2 cores);\n"
          "MB out: the video written (decode/draw: the input's size).")
    print("load avg", " ".join(f"{x:.2f}" for x in os.getloadavg()))


def _encoder() -> str:
    from sceneglot import media
    from sceneglot.render import quality

    choices = quality.for_machine(quality.DEFAULT)
    return next((e.codec for e in choices[:-1] if media.encoder_opens(e.codec)), choices[-1].codec)


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
