from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from .. import scene as scene_io
from ..errors import InputError
from . import events, options

HELP = "find shots, face tracks (a box per frame) and persons; writes DIR/scene.json"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video file")
    options.add_job_folder(parser)
    parser.add_argument("--debug-video", metavar="MP4", help="also write a video with boxes and person ids")
    # No defaults here: run() takes them from FacesSettings (importing the vision stage for --help costs ~1 s).
    parser.add_argument("--detect-size", type=int, metavar="PX",
                        help="long side of the frames the face detector sees (raise it for small faces)")
    parser.add_argument("--every", type=int, metavar="K",
                        help="run the detector on every K-th frame and track in between")
    events.add_progress(parser)


def _merge(path: Path, fresh: scene_io.Scene) -> scene_io.Scene:
    """Keep what other stages already wrote to scene.json; replace only shots, tracks and persons."""
    try:
        old = scene_io.load(path)
    except InputError:  # missing or unreadable: start afresh
        return fresh
    if Path(old.media.path).resolve() != Path(fresh.media.path).resolve():
        return fresh
    known = {p.id for p in fresh.persons}
    for item in (*old.speakers, *old.segments):
        if item.person is not None and item.person not in known:
            item.person = None
    old.media, old.shots, old.tracks, old.persons = fresh.media, fresh.shots, fresh.tracks, fresh.persons
    return old


def run(args) -> int:
    from ..jobs import FacesSettings, JobFolder, Progress
    from ..media import check_input, probe
    from ..pipeline import run_stage
    from ..vision import FacesResult, analyze_faces

    src = check_input(args.input)
    folder = options.job_folder(args, src)
    given = {"detect_size": args.detect_size, "every": args.every}
    settings = dataclasses.replace(FacesSettings(), **{k: v for k, v in given.items() if v is not None})
    if settings.detect_size < 32 or settings.every < 1:
        raise InputError("--detect-size must be >= 32 and --every >= 1")
    info = probe(src)
    job_folder = JobFolder(folder, src)
    progress = Progress(events.listeners(args.progress))
    result = run_stage(progress, job_folder, "faces", dataclasses.asdict(settings),
                       lambda: analyze_faces(src, settings=settings, info=info), FacesResult)
    if args.debug_video:
        from ..vision.debug import render

        render(src, result, args.debug_video)
    out = folder / "scene.json"
    fresh = scene_io.Scene(media=info, shots=result.shots, tracks=result.tracks, persons=result.persons)
    scene_io.save(_merge(out, fresh), out)
    print(f"{out}: {len(result.shots)} shots, {len(result.tracks)} tracks, {len(result.persons)} persons",
          file=sys.stderr)
    return 0
