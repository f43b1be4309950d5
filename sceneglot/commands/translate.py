"""`sceneglot translate INPUT --to LANG`: transcript (saved first), then translation, then the video."""

from __future__ import annotations

from pathlib import Path

from . import options

HELP = "transcribe INPUT (or read a scene.json) and fill segments[].translation; -o also renders the video"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video or audio file, or a scene.json made earlier")
    parser.add_argument("--to", required=True, metavar="LANG", help="target language (ISO 639-1, e.g. pt, es, en)")
    parser.add_argument("--translator", metavar="NAME",
                        help="backend to use (see `sceneglot translators`); default: the best available one")
    parser.add_argument("-o", "--output", metavar="OUT.mp4", help="also write the subtitled video here")
    parser.add_argument("--artifacts", metavar="DIR",
                        help="job folder for scene.json and stage caches "
                             "(default: OUT_STEM.sceneglot beside -o, else ./INPUT_STEM.sceneglot)")
    options.add_speech(parser)
    parser.add_argument("--formality", choices=["default", "more", "less", "prefer_more", "prefer_less"],
                        help="DeepL formality")
    parser.add_argument("--glossary", metavar="ID", help="DeepL glossary id")
    parser.add_argument("--openai-model", metavar="MODEL", help="model for the openai backend")
    parser.add_argument("--openai-base-url", metavar="URL",
                        help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 for Ollama")
    parser.add_argument("--cache", metavar="FILE", help="translation cache (SQLite; default: in the model cache)")


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


def _analyze(input_path: str, folder: Path, args):
    """The untranslated scene from the analysis pipeline (or from a scene.json given as input)."""
    from .. import pipeline
    from .. import scene as scene_io

    if input_path.lower().endswith(".json"):
        return scene_io.load(input_path)
    return pipeline.analyze(input_path, folder, **options.speech_options(args))


def run(args) -> int:
    from .. import media
    from .. import scene as scene_io
    from ..files import check_output_path
    from ..translate import plan, translate_scene

    input_path = args.input
    from_json = input_path.lower().endswith(".json")
    media.check_input(input_path)
    # Before any work: a target no backend (or pivot through English) reaches fails now, not after the analysis.
    plan(options.language(args.language), args.to, args.translator, _options(args))
    if args.output:
        check_output_path(args.output, input_path)  # before minutes of analysis, not after
    if not from_json:
        media.require(media.probe(input_path), audio=True, video=bool(args.output))
    options.speech_options(args)  # bad speaker/language options fail before any work
    folder = artifacts_dir(args)
    folder.mkdir(parents=True, exist_ok=True)
    scene = _analyze(input_path, folder, args)
    media_path = scene.media.path if from_json else input_path
    if args.output and from_json:  # the video the scene names must not be overwritten either
        check_output_path(args.output, media_path)
    scene_file = folder / "scene.json"
    scene_io.save(scene, scene_file)  # the transcript survives a failed translation
    translated = translate_scene(scene, args.to, translator=args.translator,
                                 audio_path=media_path,  # translate_scene drops a path that is no file
                                 cache_path=args.cache, options=_options(args))
    scene_io.save(translated, scene_file)
    done = sum(1 for s in translated.segments if s.translation)
    print(f"{scene_file}: {done}/{len(translated.segments)} segments translated to {translated.target_language}")
    if args.output:
        from ..render.burn import burn

        burn(translated, media_path, args.output)
        print(args.output)
    return 0
