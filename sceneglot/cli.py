"""`sceneglot …`: one entry point; each sub-command lives in sceneglot/commands/NAME.py.

A command module has `HELP` (one line), `add_arguments(parser)` and
`run(args) -> int`. User-fixable problems surface as one line on stderr and a
non-zero exit; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import SceneglotError

COMMANDS = ["probe", "models", "doctor", "faces", "preview", "translate", "translators", "transcribe", "analyze"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sceneglot",
        description="Speaker-anchored, live-translated subtitles for video of people talking.",
    )
    parser.add_argument("--version", action="version", version=f"sceneglot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"sceneglot.commands.{name.replace('-', '_')}")
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SceneglotError as exc:
        print(f"sceneglot: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sceneglot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
