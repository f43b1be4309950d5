"""`sceneglot render SCENE.json -o OUT.mp4`: the video and subtitle files again from an edited scene.json."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from . import events, options

HELP = "re-render the video and subtitle files from an edited scene.json (no analysis, no translation)"


def add_arguments(parser) -> None:
    parser.add_argument("scene", help="scene.json in a job folder (edit text, translations, speakers, persons)")
    parser.add_argument("-o", "--output", metavar="OUT.mp4",
                        help="also place the video (and its subtitle files beside it) here")
    parser.add_argument("--input", metavar="MEDIA", help="the source video (default: the job's, else the scene's)")
    options.add_render(parser, inherit=True)
    events.add_progress(parser)


def run(args) -> int:
    from .. import media
    from .. import scene as scene_io
    from ..files import check_output_path
    from ..jobs import Job, render_job

    scene_path = Path(args.scene)
    if scene_path.is_dir():
        scene_path = scene_path / "scene.json"
    scene = scene_io.load(scene_path)  # a broken edit fails here, in one line
    folder = scene_path.parent
    job = Job.load(folder) if (folder / "job.json").is_file() else Job(input=scene.media.path, folder=str(folder))
    job.folder = str(folder.absolute())  # the folder the scene is in, wherever the job first ran
    if args.input:
        job.input = args.input
    if Path(job.input).suffix.lower() == ".json":
        job.input = scene.media.path
    src = media.check_input(job.input)
    info = media.require(media.probe(src), video=True)
    if (info.width, info.height) != (scene.media.width, scene.media.height):
        raise InputError(f"{scene_path} is for {scene.media.width}x{scene.media.height} video, {src} is "
                         f"{info.width}x{info.height}")
    job.output = args.output
    if args.quality:
        job.render.quality = args.quality
    if job.output:
        check_output_path(job.output, src, scene_path)
    result = render_job(job, listeners=events.listeners(args.progress), scene_path=scene_path)
    print(result.outputs.get("output_video") or result.outputs["video"])
    return 0
