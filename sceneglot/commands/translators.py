"""`sceneglot translators`: which translation backends work here, for which pairs, and how to enable the rest."""

from __future__ import annotations

import dataclasses
import json

HELP = "list translation backends, their language pairs and availability (--download fetches NLLB / OPUS-MT)"


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--download", metavar="MODEL",
                        help="fetch a CTranslate2 model into the cache once: nllb, or opus-mt:SRC-TGT")


def _download(spec: str) -> str:
    from ..errors import InputError
    from ..translate import ctranslate

    if spec == "nllb":
        source = ctranslate.nllb_source()
    elif spec.startswith("opus-mt:") and spec.count("-") == 2:
        src, tgt = spec.removeprefix("opus-mt:").split("-")
        source = ctranslate.opus_source(src, tgt)
    else:
        raise InputError(f"--download takes nllb or opus-mt:SRC-TGT, not {spec!r}")
    return str(ctranslate.fetch(source))


def run(args) -> int:
    from ..translate import available

    if args.download:
        print(_download(args.download))
        return 0
    infos = available()
    if args.json:
        print(json.dumps([dataclasses.asdict(i) for i in infos], indent=2))
        return 0
    width = max(len(i.name) for i in infos)
    for i in infos:
        mark = "ok     " if i.available else "missing"
        where = "offline" if i.offline else "online "
        print(f"{i.name:<{width}}  {mark}  {where}  {i.pairs}")
        extra = i.how or i.note
        if extra:
            print(f"{'':<{width}}  {extra}")
    return 0
