from __future__ import annotations

import sys

from ..av import ENGINES
from . import events, options

HELP = "speech + faces + active speakers + who-says-what in one run; writes DIR/scene.json and a debug video"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video file")
    options.add_job_folder(parser)
    options.add_speech(parser)
    parser.add_argument("--asd-engine", choices=ENGINES, default="onnxruntime",
                        help="runtime for the Light-ASD network (default: onnxruntime)")
    parser.add_argument("--debug-video", metavar="MP4",
                        help="where to write the debug video (default: DIR/debug-av.mp4)")
    parser.add_argument("--no-debug-video", action="store_true", help="skip the debug video")
    options.add_ray(parser)
    events.add_progress(parser)


def run(args) -> int:
    from ..files import check_output_path
    from ..jobs import AsdSettings, Job, RenderSettings, run_job
    from ..media import check_input, probe

    src = check_input(args.input)
    speech = options.speech_settings(args)
    folder = options.job_folder(args, src)
    info = probe(src)  # unusable media fails here, before any folder is made
    debug = None
    if not args.no_debug_video and info.has_video:
        if not args.debug_video:
            folder.mkdir(parents=True, exist_ok=True)
        debug = check_output_path(args.debug_video or folder / "debug-av.mp4", src)
    job = Job(input=options.absolute(src), folder=options.absolute(folder), speech=speech,
              asd=AsdSettings(engine=args.asd_engine), render=RenderSettings(debug_video=str(debug) if debug else None))
    scene = run_job(job, listeners=events.listeners(args.progress), executor=options.executor(args)).scene
    on_screen = sum(1 for s in scene.segments if s.person)
    print(f"{folder / 'scene.json'}: {len(scene.segments)} phrases ({on_screen} on a face), "
          f"{len(scene.speakers)} speakers, {len(scene.persons)} persons, {len(scene.tracks)} tracks"
          + (f"; debug video {debug}" if debug else ""), file=sys.stderr)
    return 0
