from __future__ import annotations

import sys
from pathlib import Path

from ..av import asd
from ..errors import InputError
from ..files import check_output_path
from ..media import check_input, probe
from ..pipeline import analyze

HELP = "speech + faces + active speakers + who-says-what in one run; writes DIR/scene.json and a debug video"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video file")
    parser.add_argument("--artifacts", metavar="DIR",
                        help="job folder for scene.json and stage caches (default: ./INPUT_STEM.sceneglot)")
    parser.add_argument("--language", help="spoken language code (default: detect)")
    parser.add_argument("--num-speakers", type=int, metavar="N", help="exact number of voices, when known")
    parser.add_argument("--min-speakers", type=int, metavar="N")
    parser.add_argument("--max-speakers", type=int, metavar="N")
    parser.add_argument("--asd-engine", choices=asd.ENGINES, default="onnxruntime",
                        help="runtime for the Light-ASD network (default: onnxruntime)")
    parser.add_argument("--debug-video", metavar="MP4",
                        help="where to write the debug video (default: DIR/debug-av.mp4)")
    parser.add_argument("--no-debug-video", action="store_true", help="skip the debug video")


def run(args) -> int:
    src = check_input(args.input)
    for name in ("num_speakers", "min_speakers", "max_speakers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1")
    if args.min_speakers and args.max_speakers and args.min_speakers > args.max_speakers:
        raise InputError("--min-speakers is larger than --max-speakers")
    folder = Path(args.artifacts) if args.artifacts else Path.cwd() / f"{src.stem}.sceneglot"
    info = probe(src)  # unusable media fails here, before any folder is made
    debug = None
    if not args.no_debug_video and info.has_video:
        if not args.debug_video:
            folder.mkdir(parents=True, exist_ok=True)
        debug = check_output_path(args.debug_video or folder / "debug-av.mp4", src)
    scene = analyze(src, folder, language=args.language, num_speakers=args.num_speakers,
                    min_speakers=args.min_speakers, max_speakers=args.max_speakers,
                    asd_engine=args.asd_engine, debug_video=debug)
    on_screen = sum(1 for s in scene.segments if s.person)
    print(f"{folder / 'scene.json'}: {len(scene.segments)} phrases ({on_screen} on a face), "
          f"{len(scene.speakers)} speakers, {len(scene.persons)} persons, {len(scene.tracks)} tracks"
          + (f"; debug video {debug}" if debug else ""), file=sys.stderr)
    return 0
