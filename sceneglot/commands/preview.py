"""`sceneglot preview INPUT --at SECONDS -o frame.png`: one rendered frame, for quick checks of the look."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from ..errors import InputError

HELP = "render the subtitled frame at one time into a PNG (uses the job's scene.json)"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video file")
    parser.add_argument("--at", type=float, required=True, metavar="SECONDS", help="time of the frame")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--scene", metavar="JSON",
                        help="scene.json to draw (default: ./INPUT_STEM.sceneglot/scene.json)")


def run(args) -> int:
    import cv2

    from .. import media
    from .. import scene as scene_io
    from ..files import atomic_path, check_output_path
    from ..render.burn import Painter

    src = media.check_input(args.input)
    out = check_output_path(args.output, src)
    if out.suffix.lower() != ".png":
        raise InputError(f"output must be a .png file: {out}")
    scene_path = Path(args.scene) if args.scene else Path.cwd() / f"{src.stem}.sceneglot" / "scene.json"
    if not scene_path.exists():
        raise InputError(f"no scene file {scene_path}: run `sceneglot translate` first or pass --scene")
    scene = scene_io.load(scene_path)
    info = media.probe(src)
    if not math.isfinite(args.at) or args.at < 0 or (info.duration and args.at >= info.duration):
        raise InputError(f"--at {args.at} is outside the video (0 to {info.duration:.2f} s)")
    if (info.width, info.height) != (scene.media.width, scene.media.height):
        raise InputError(f"{scene_path} is for {scene.media.width}x{scene.media.height} video, {src} is "
                         f"{info.width}x{info.height}")
    frame = next(media.iter_frames(src, start=args.at), None)
    if frame is None:
        raise InputError(f"no frame at {args.at} s in {src}")
    image = Painter(scene).paint(frame.image.copy(), frame.time)
    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise InputError(f"cannot encode PNG for {out}")
    with atomic_path(out) as tmp:
        tmp.write_bytes(data.tobytes())
    print(f"{out}: frame at {frame.time:.3f} s", file=sys.stderr)
    return 0
