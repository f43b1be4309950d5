"""`sceneglot translate INPUT --to LANG`: transcript (saved first), then translation, then the video."""

from __future__ import annotations

from pathlib import Path

from . import events, options, report

HELP = "transcribe INPUT (or read a scene.json) and fill segments[].translation; -o also renders the video"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video or audio file, or a scene.json made earlier")
    parser.add_argument("--to", required=True, metavar="LANG", help="target language (ISO 639-1, e.g. pt, es, en)")
    parser.add_argument("--translator", metavar="NAME",
                        help="backend to use (see `sceneglot translators`); default: the best available one")
    parser.add_argument("-o", "--output", metavar="OUT.mp4", help="also write the subtitled video here")
    options.add_render(parser)
    parser.add_argument("--artifacts", metavar="DIR",
                        help="job folder for scene.json, exports and stage caches "
                             "(default: OUT_STEM.sceneglot beside -o, else ./INPUT_STEM.sceneglot)")
    options.add_speech(parser)
    parser.add_argument("--formality", choices=["default", "more", "less", "prefer_more", "prefer_less"],
                        help="DeepL formality")
    parser.add_argument("--glossary", metavar="ID", help="DeepL glossary id")
    parser.add_argument("--openai-model", metavar="MODEL", help="model for the openai backend")
    parser.add_argument("--openai-base-url", metavar="URL",
                        help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 for Ollama")
    parser.add_argument("--cache", metavar="FILE", help="translation cache (SQLite; default: in the model cache)")
    options.add_ray(parser)
    events.add_progress(parser)


def artifacts_dir(args) -> Path:
    """--artifacts, else OUT_STEM.sceneglot beside -o, else ./INPUT_STEM.sceneglot."""
    if args.output and not args.artifacts:
        out = Path(args.output)
        return out.parent / f"{out.stem}.sceneglot"
    return options.job_folder(args, Path(args.input))


def _options(args) -> dict:
    pairs = {"formality": args.formality, "glossary": args.glossary, "openai_model": args.openai_model,
             "openai_base_url": args.openai_base_url}
    return {k: v for k, v in pairs.items() if v}


def run(args) -> int:
    from .. import media
    from .. import scene as scene_io
    from ..files import check_output_path
    from ..jobs import Job, run_job
    from ..translate import plan

    input_path = args.input
    from_json = input_path.lower().endswith(".json")
    media.check_input(input_path)
    # Before any work: a target no backend (or pivot through English) reaches fails now, not after the analysis.
    plan(options.language(args.language), args.to, args.translator, _options(args))
    if args.output:
        check_output_path(args.output, input_path)  # before minutes of analysis, not after
    if from_json:
        scene = scene_io.load(input_path)  # an invalid scene fails here
        if args.output:  # the video the scene names must not be overwritten either
            check_output_path(args.output, scene.media.path)
    speech = options.speech_settings(args)  # bad speaker/language options fail before any work
    if not from_json:
        info = media.require(media.probe(input_path, audio=speech.audio_stream), audio=True, video=bool(args.output))
        report.audio_stream_note(info)
    folder = artifacts_dir(args)
    job = Job(input=options.absolute(input_path), folder=options.absolute(folder), target_language=args.to,
              translator=args.translator, translator_options=_options(args), translation_cache=args.cache,
              output=options.absolute(args.output), speech=speech, render=options.render_settings(args))
    with report.job_folder_kept_only_with_results(folder):
        result = run_job(job, listeners=events.listeners(args.progress), executor=options.executor(args))
    translated = result.scene
    report.no_speech_note(translated, video=bool(args.output))
    done = sum(1 for s in translated.segments if s.translation)
    report.summary(f"{done}/{len(translated.segments)} segments translated to {translated.target_language}; "
                   f"files written:", result.outputs)
    return 0
