"""`sceneglot …`: one entry point; each sub-command lives in sceneglot/commands/NAME.py.

A command module has `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`; only the chosen command's module is imported. User-fixable
problems surface as one line on stderr and a non-zero exit; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading

from . import __version__
from .errors import SceneglotError
from .terminal import warnings_to_terminal

COMMANDS = ["probe", "models", "doctor", "faces", "preview", "translate", "render", "translators", "transcribe",
            "analyze", "serve", "avsr"]


def _module(name: str):
    return importlib.import_module(f"sceneglot.commands.{name.replace('-', '_')}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command`, only that sub-command's module is imported ("" imports none).

    Command modules pull in their stage (torch, scipy, OpenCV...): importing
    all of them costs seconds, so a run loads just the one it needs and only
    the top-level --help reads every module's HELP.
    """
    parser = argparse.ArgumentParser(
        prog="sceneglot",
        description="Speaker-anchored, live-translated subtitles for video of people talking.",
    )
    parser.add_argument("--version", action="version", version=f"sceneglot {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="also show the libraries' own warnings (hidden by default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        if command is not None and name != command:
            sub.add_parser(name)
            continue
        module = _module(name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="also show the libraries' own warnings (hidden by default)")
        cmd.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Top-level --help lists every command's HELP; --version and usage errors need none.
    wants_help = any(a in ("-h", "--help") for a in argv)
    first = next((a for a in argv if not a.startswith("-")), None)  # the sub-command follows any top-level flags
    command = first if first in COMMANDS else (None if wants_help else "")
    args = build_parser(command).parse_args(argv)
    try:
        with warnings_to_terminal(args.verbose):
            return int(args.run(args) or 0)
    except SceneglotError as exc:
        from .jobs import Cancelled  # not at the top: --help never needs the job layer

        print(f"sceneglot: {exc}" if isinstance(exc, Cancelled) else f"sceneglot: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # stage caches written so far stay; nothing half-written is left
        print("sceneglot: interrupted; finished stages are kept and the next run resumes from them", file=sys.stderr)
        _leave_now_if_a_stage_still_runs()
        return 130
    except BrokenPipeError:
        return 1


def _leave_now_if_a_stage_still_runs() -> None:
    """Exit at once while the speech thread is still inside native code (Whisper, onnxruntime, torch).

    It would stop at its next chunk, seconds away; letting the interpreter shut down around it
    aborts in the libraries' destructors. Every file is written to a temporary name and renamed,
    so leaving now loses only the unfinished stage.
    """
    if any(t.is_alive() and t.name in ("sceneglot-speech", "sceneglot-diarization") for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)


MODEL_MODULES = ("torch", "ctranslate2", "onnxruntime")


def run() -> None:
    """The command-line entry point: `main()`, then leave without the interpreter's teardown after a job.

    Freeing torch, CTranslate2 and onnxruntime module by module at exit took 4.6 s after a
    `translate -o` of cut2 (a 12.8 s clip) on this 2-core machine, longer than its translation
    and layout together. By then every output is written and renamed, so the process leaves at
    once (standard streams flushed) when a model runtime was loaded and no child process is left
    to reap (`serve`'s workers go the ordinary way).
    """
    code = main()
    import multiprocessing

    if any(m in sys.modules for m in MODEL_MODULES) and not multiprocessing.active_children():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):
            pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
