from __future__ import annotations

from pathlib import Path

from ..errors import InputError

HELP = "transcribe speech with word times and speakers: scene.json, diarization.rttm, transcript.srt/.vtt"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video or audio file")
    parser.add_argument("--artifacts", metavar="DIR",
                        help="output and stage-cache folder (default: INPUT's folder/INPUT-STEM.sceneglot)")
    parser.add_argument("--language", default="auto", help="'auto' (per speech chunk) or a Whisper code: en, pl, ...")
    parser.add_argument("--speakers", type=int, metavar="N", help="exact number of speakers")
    parser.add_argument("--min-speakers", type=int, metavar="A")
    parser.add_argument("--max-speakers", type=int, metavar="B")
    parser.add_argument("--asr-model", metavar="NAME|DIR",
                        help="Whisper: store name or CTranslate2 folder (default whisper-base or $SCENEGLOT_WHISPER)")


def _check(args) -> str | None:
    if args.speakers is not None and (args.min_speakers is not None or args.max_speakers is not None):
        raise InputError("--speakers excludes --min-speakers/--max-speakers")
    for name in ("speakers", "min_speakers", "max_speakers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if args.min_speakers and args.max_speakers and args.min_speakers > args.max_speakers:
        raise InputError("--min-speakers is larger than --max-speakers")
    lang = (args.language or "auto").lower()
    if lang == "auto":
        return None
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if lang not in _LANGUAGE_CODES:
        raise InputError(f"unknown language code {args.language!r} (use auto or a Whisper code such as en, pl)")
    return lang


def run(args) -> int:
    from .. import media, pipeline
    from .. import scene as scene_io
    from ..render import export
    from ..speech import asr
    from ..speech.pipeline import transcribe_with_turns

    language = _check(args)
    src = media.check_input(args.input)
    media.probe(src)  # unusable media fails here, before any folder is created
    folder = Path(args.artifacts) if args.artifacts else src.parent / f"{src.stem}.sceneglot"
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--artifacts is not a folder: {folder}")
    try:
        arts = pipeline.Artifacts(folder, src)
    except OSError as exc:
        raise InputError(f"cannot use artifacts folder {folder}: {exc.strerror or exc}") from None
    scene, turns = transcribe_with_turns(
        src, language=language, num_speakers=args.speakers, min_speakers=args.min_speakers,
        max_speakers=args.max_speakers, artifacts=arts,
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
