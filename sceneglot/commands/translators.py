"""`sceneglot translators`: which translation backends work here, for which pairs, and how to enable the rest."""

from __future__ import annotations

import dataclasses
import json

HELP = "list translation backends, their language pairs and availability (--download fetches NLLB / OPUS-MT)"


def _codes(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def add_arguments(parser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--from", dest="source", metavar="LANG[,LANG...]",
                        help="with --to: the route sceneglot would take for each pair, and why")
    parser.add_argument("--to", dest="target", metavar="LANG[,LANG...]",
                        help="target language(s); without --from the spoken language is taken as unknown")
    parser.add_argument("--download", metavar="MODEL",
                        help="fetch a CTranslate2 model into the cache once: nllb, or opus-mt:SRC-TGT")


def _download(spec: str) -> str:
    from ..errors import InputError
    from ..translate import ctranslate

    if spec == "nllb":
        source = ctranslate.nllb_source()
    elif spec.startswith("opus-mt:") and spec.count("-") == 2:
        src, tgt = spec.removeprefix("opus-mt:").split("-")
        if (src, tgt) not in ctranslate.OPUS_PAIRS:  # the download would only meet a 404
            raise InputError(f"there is no published opus-mt-{src}-{tgt} model to download; "
                             f"nllb does any pair of its languages: --download nllb")
        source = ctranslate.opus_source(src, tgt)
    else:
        raise InputError(f"--download takes nllb or opus-mt:SRC-TGT, not {spec!r}")
    return str(ctranslate.fetch(source))


def _routes(args) -> int:
    from ..errors import InputError
    from ..translate.route import routes_table

    if not args.target:
        raise InputError("--from needs --to")
    rows = routes_table(_codes(args.source or "") or [""], _codes(args.target))
    if args.json:
        print(json.dumps([{"source": s, "target": t, "route": r.name if r else None,
                           "legs": [leg.label for leg in r.legs] if r else [], "why": why}
                          for s, t, r, why in rows], indent=2))
    else:
        for s, t, r, why in rows:
            print(f"{s or '?'}->{t}  {(r.name or 'as spoken') if r else 'none'}  ({why})")
    return 0 if all(r is not None for _, _, r, _ in rows) else 4


def run(args) -> int:
    from ..translate import available

    if args.download:
        print(_download(args.download))
        return 0
    if args.source or args.target:
        return _routes(args)
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
