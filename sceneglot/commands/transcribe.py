from __future__ import annotations

from ..errors import InputError
from . import options

HELP = "transcribe speech with word times and speakers: scene.json, diarization.rttm, transcript.srt/.vtt"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video or audio file")
    options.add_job_folder(parser)
    options.add_speech(parser)
    parser.add_argument("--asr-model", metavar="NAME|DIR",
                        help="Whisper: store name or CTranslate2 folder (default whisper-base or $SCENEGLOT_WHISPER)")


def run(args) -> int:
    from .. import media, pipeline
    from .. import scene as scene_io
    from ..render import export
    from ..speech import asr
    from ..speech.pipeline import transcribe_with_turns

    speech = options.speech_options(args)
    src = media.check_input(args.input)
    media.probe(src)  # unusable media fails here, before any folder is created
    folder = options.job_folder(args, src)
    try:
        arts = pipeline.Artifacts(folder, src)
    except OSError as exc:
        raise InputError(f"cannot use artifacts folder {folder}: {exc.strerror or exc}") from None
    scene, turns = transcribe_with_turns(
        src, **speech, artifacts=arts,
        asr_options=asr.AsrOptions(model=args.asr_model) if args.asr_model else None,
        progress=lambda items: pipeline.progress(items, total=len(items), desc="transcribe", unit="chunk"),
    )
    text_srt, text_vtt = export.to_srt(scene.segments), export.to_vtt(scene.segments)
    text_rttm = export.to_rttm(turns, src.stem)
    body = scene_io.dumps(scene)  # validates before anything is written
    export.write_text_atomic(arts.path("diarization.rttm"), text_rttm)
    export.write_text_atomic(arts.path("transcript.srt"), text_srt)
    export.write_text_atomic(arts.path("transcript.vtt"), text_vtt)
    export.write_text_atomic(arts.path("scene.json"), body)
    langs = sorted({s.language for s in scene.segments if s.language})
    print(f"{len(scene.segments)} phrases, {len(scene.speakers)} speakers, languages {','.join(langs) or '-'} "
          f"-> {folder}")
    return 0
