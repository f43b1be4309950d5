from __future__ import annotations

import dataclasses
import json

HELP = "print what a media file holds (duration, fps, size, rotation, audio) as JSON"


def add_arguments(parser) -> None:
    parser.add_argument("input", help="video or audio file")


def run(args) -> int:
    from ..media import probe  # PyAV and numpy: not for --help

    print(json.dumps(dataclasses.asdict(probe(args.input)), indent=2))
    return 0
