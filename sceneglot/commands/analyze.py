from __future__ import annotations

from ..av import ENGINES
from . import events, options, report

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
    info = probe(src, audio=speech.audio_stream)  # unusable media fails here, before any folder is made
    report.audio_stream_note(info)
    debug = None
    if not args.no_debug_video and info.has_video:  # the default lands in the job folder, made by the job
        debug = check_output_path(args.debug_video, src) if args.debug_video else folder / "debug-av.mp4"
    job = Job(input=options.absolute(src), folder=options.absolute(folder), speech=speech,
              asd=AsdSettings(engine=args.asd_engine), render=RenderSettings(debug_video=str(debug) if debug else None))
    with report.job_folder_kept_only_with_results(folder):
        result = run_job(job, listeners=events.listeners(args.progress), executor=options.executor(args))
    scene = result.scene
    report.no_speech_note(scene, video=False)
    on_screen = sum(1 for s in scene.segments if s.person)
    report.summary(f"{len(scene.segments)} phrases ({on_screen} on a face), {len(scene.speakers)} speakers, "
                   f"{len(scene.persons)} persons, {len(scene.tracks)} tracks; files written:",
                   [*result.outputs.values(), *([debug] if debug else [])])
    return 0
