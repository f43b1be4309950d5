from __future__ import annotations

from ..errors import InputError
from . import events, options, report

HELP = "transcribe speech with word times and speakers: scene.json, diarization.rttm, transcript.srt/.vtt"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video or audio file")
    options.add_job_folder(parser)
    options.add_speech(parser)
    parser.add_argument("--asr-model", metavar="NAME|DIR",
                        help="Whisper: store name or CTranslate2 folder (default whisper-base or $SCENEGLOT_WHISPER)")
    events.add_progress(parser)


def run(args) -> int:
    from .. import media, pipeline
    from .. import scene as scene_io
    from ..files import write_text_atomic
    from ..jobs import Job, JobFolder, Progress
    from ..render import export

    speech = options.speech_settings(args)
    src = media.check_input(args.input)
    info = media.probe(src, audio=speech.audio_stream)  # unusable media fails here, before any folder is created
    report.audio_stream_note(info)
    folder = options.job_folder(args, src)
    job = Job(input=options.absolute(src), folder=options.absolute(folder), speech=speech)
    with report.job_folder_kept_only_with_results(folder):
        try:
            job_folder = JobFolder(folder, src)
        except OSError as exc:
            raise InputError(f"cannot use artifacts folder {folder}: {exc.strerror or exc}") from None
        job.save()
        scene, rttm = pipeline.speech(job, info, job_folder, Progress(events.listeners(args.progress)))
    texts = {  # all made (scene.json validated) before anything is written
        "diarization.rttm": rttm,
        "scene.json": scene_io.dumps(scene),
    }
    if not report.no_speech_note(scene, video=False):  # no cue: no SRT (an empty one is no SRT at all)
        texts["transcript.srt"] = export.to_srt(scene)  # same lines and timing rules as the video
        texts["transcript.vtt"] = export.to_vtt(scene)
    for name, text in texts.items():
        write_text_atomic(job_folder.path(name), text)
    langs = sorted({s.language for s in scene.segments if s.language})
    report.summary(f"{len(scene.segments)} phrases, {len(scene.speakers)} speakers, languages "
                   f"{','.join(langs) or '-'}; files written:",
                   [job_folder.path("job.json"), *(job_folder.path(name) for name in texts)])
    return 0
