"""Options several sub-commands share, declared and checked in one place."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError


def add_job_folder(parser) -> None:
    parser.add_argument("--artifacts", metavar="DIR",
                        help="job folder for scene.json, exports and stage caches (default: ./INPUT_STEM.sceneglot)")


def job_folder(args, src: Path) -> Path:
    """The job folder: --artifacts, else INPUT_STEM.sceneglot in the current directory."""
    folder = Path(args.artifacts) if args.artifacts else Path.cwd() / f"{Path(src).stem}.sceneglot"
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--artifacts is not a folder: {folder}")
    return folder


def absolute(path) -> str | None:
    """A path for the job record: absolute, so job.json means the same from any directory."""
    return None if path is None else str(Path(path).absolute())


def add_ray(parser) -> None:
    parser.add_argument("--ray", metavar="ADDRESS",
                        help="run the job's stages as tasks on a Ray cluster: HOST:PORT of its head, ray://HOST:PORT, "
                             "or 'auto' for the cluster `ray start` made on this machine")
    parser.add_argument("--ray-cpus", type=int, default=1, metavar="N", help="CPUs each Ray task declares (default 1)")


def executor(args):
    """The stage executor --ray asks for (None: this process). Ray is imported only here, only then."""
    if getattr(args, "ray", None) and args.ray_cpus < 1:
        raise InputError("--ray-cpus must be at least 1")
    return ray_executor(getattr(args, "ray", None), getattr(args, "ray_cpus", 1))


def ray_executor(address: str | None, cpus: int | str = 1):
    """A cluster.RayExecutor for `address`, or None when there is none (serve's workers: $SCENEGLOT_RAY)."""
    if not address:
        return None
    from ..cluster import RayExecutor

    return RayExecutor(address, cpus=int(cpus))


def add_render(parser, inherit: bool = False) -> None:
    """--quality; with `inherit` (re-render) the default is the job's own."""
    from ..render.quality import DEFAULT, QUALITIES

    parser.add_argument("--quality", choices=QUALITIES, default=None if inherit else DEFAULT,
                        help="video encoding: fast (x264 superfast crf 21), balanced (veryfast crf 20), best (slow "
                             "crf 18: about 3x the encode time of balanced); NVENC p1/p4/p7 on an NVIDIA GPU "
                             f"(default: {'the job' + chr(39) + 's' if inherit else DEFAULT})")


def render_settings(args, **fields):
    """The job's RenderSettings from the options `add_render` declared."""
    from ..jobs import RenderSettings

    return RenderSettings(quality=args.quality, **fields)


def add_speech(parser) -> None:
    parser.add_argument("--language", default="auto",
                        help="'auto' (detected per speech chunk) or a Whisper code: en, pl, ...")
    parser.add_argument("--speakers", "--num-speakers", dest="num_speakers", type=int, metavar="N",
                        help="exact number of speakers, when known")
    parser.add_argument("--min-speakers", type=int, metavar="A", help="at least this many speakers")
    parser.add_argument("--max-speakers", type=int, metavar="B", help="at most this many speakers")
    parser.add_argument("--audio-stream", type=int, metavar="N",
                        help="audio stream to listen to, 0-based among the file's audio streams (default: the one "
                             "a player picks: default-flagged, else the first with sound)")


def speech_options(args) -> dict:
    """Validated keyword arguments for the speech stage, from the options `add_speech` declared."""
    if args.num_speakers is not None and (args.min_speakers is not None or args.max_speakers is not None):
        raise InputError("--speakers excludes --min-speakers/--max-speakers")
    for name in ("num_speakers", "min_speakers", "max_speakers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            flag = "speakers" if name == "num_speakers" else name.replace("_", "-")
            raise InputError(f"--{flag} must be at least 1")
    if args.min_speakers and args.max_speakers and args.min_speakers > args.max_speakers:
        raise InputError("--min-speakers is larger than --max-speakers")
    return {"language": language(args.language), "num_speakers": args.num_speakers,
            "min_speakers": args.min_speakers, "max_speakers": args.max_speakers}


def speech_settings(args):
    """The job's SpeechSettings from the shared speech options (checked as `speech_options` does)."""
    from ..jobs import SpeechSettings

    stream = getattr(args, "audio_stream", None)
    if stream is not None and stream < 0:
        raise InputError("--audio-stream must be 0 or more")
    return SpeechSettings(**speech_options(args), asr_model=getattr(args, "asr_model", None), audio_stream=stream)


def language(code: str | None) -> str | None:
    lang = (code or "auto").lower()
    if lang == "auto":
        return None
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if lang not in _LANGUAGE_CODES:
        raise InputError(f"unknown language code {code!r} (use auto or a Whisper code such as en, pl)")
    return lang
