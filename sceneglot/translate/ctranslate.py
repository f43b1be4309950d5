"""NLLB-200 and OPUS-MT in CTranslate2 format: many pairs, offline once downloaded.

No registry package ships these weights, so the first use downloads them into
the model cache (`models.cache_dir("translate", NAME)`), and later runs work
offline. The exact sources:
- nllb: CTranslate2 int8 conversion `JustFrederik/nllb-200-distilled-600M-ct2-int8`
  (model.bin, config.json, shared_vocabulary.txt) plus the SentencePiece model
  `sentencepiece.bpe.model` of `facebook/nllb-200-distilled-600M`. CC-BY-NC-4.0:
  non-commercial use only.
- opus-mt: `gaudi/opus-mt-{src}-{tgt}-ctranslate2` (model.bin, config.json,
  shared_vocabulary.json, source.spm, target.spm), Apache-2.0 / CC-BY-4.0 per pair.
A folder you converted yourself works too: put it at the cache path shown by
`sceneglot translators` (e.g. `ct2-transformers-converter --model
Helsinki-NLP/opus-mt-en-de --output_dir DIR --copy_files source.spm target.spm`).
A download records the sha256 of each file; a later change fails loudly.
"""

from __future__ import annotations

import json
import threading
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendError, ModelError
from ..files import write_text_atomic
from .base import BackendInfo, Request, check_aligned

HUB = "https://huggingface.co/{repo}/resolve/main/{file}"
NLLB_REPO = "JustFrederik/nllb-200-distilled-600M-ct2-int8"
NLLB_SPM_REPO = "facebook/nllb-200-distilled-600M"
OPUS_REPO = "gaudi/opus-mt-{src}-{tgt}-ctranslate2"
STAMP = "sceneglot-files.json"

# ISO 639-1 -> NLLB (FLORES-200) codes for the languages people most ask for.
NLLB_CODES = {
    "af": "afr_Latn", "ar": "arb_Arab", "bg": "bul_Cyrl", "bn": "ben_Beng", "ca": "cat_Latn", "cs": "ces_Latn",
    "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn",
    "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn", "ga": "gle_Latn", "gl": "glg_Latn",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn", "id": "ind_Latn", "it": "ita_Latn",
    "ja": "jpn_Jpan", "ko": "kor_Hang", "lt": "lit_Latn", "lv": "lvs_Latn", "ms": "zsm_Latn", "nl": "nld_Latn",
    "no": "nob_Latn", "nb": "nob_Latn", "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "sk": "slk_Latn", "sl": "slv_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn", "ta": "tam_Taml",
    "th": "tha_Thai", "tr": "tur_Latn", "uk": "ukr_Cyrl", "ur": "urd_Arab", "vi": "vie_Latn", "zh": "zho_Hans",
}

# Bilingual OPUS-MT models Helsinki-NLP published under two-letter codes (opus-mt-SRC-TGT), the ones
# offered for download: there is no opus-mt-en-pl, en-ja or en-pt (those need a multilingual or
# "tc-big" model, which this backend does not load), so suggesting them would send people to a 404.
_FROM_EN = ("af ar ca cs cy da de el eo es et eu fi fr ga gl he hi ht hu hy id is it mk ml mr mt nl ro ru sk sq "
            "sv sw tl uk ur vi xh zh")
_TO_EN = ("af ar bg bn ca cs cy da de eo es et eu fi fr ga gl he hi ht hu hy id is it ja ka ko lv mk ml mr mt nl "
          "pl ro ru sk sq sv sw th tl tr uk ur vi xh zh")
_OTHER = "de-es de-fr es-de es-fr es-it es-pl es-ru fr-de fr-es fr-ro fr-ru it-es ro-fr ru-es ru-fr ru-uk uk-ru"
OPUS_PAIRS = frozenset({("en", t) for t in _FROM_EN.split()} | {(s, "en") for s in _TO_EN.split()}
                       | {tuple(p.split("-")) for p in _OTHER.split()})


@dataclass(frozen=True)
class Source:
    folder: str  # under the model cache
    files: tuple[tuple[str, str], ...]  # (repo, file name)


def nllb_source() -> Source:
    return Source("nllb-200-distilled-600M-ct2-int8",
                  ((NLLB_REPO, "model.bin"), (NLLB_REPO, "config.json"), (NLLB_REPO, "shared_vocabulary.txt"),
                   (NLLB_SPM_REPO, "sentencepiece.bpe.model")))


def opus_source(src: str, tgt: str) -> Source:
    repo = OPUS_REPO.format(src=src, tgt=tgt)
    return Source(f"opus-mt-{src}-{tgt}",
                  tuple((repo, f) for f in ("model.bin", "config.json", "shared_vocabulary.json",
                                            "source.spm", "target.spm")))


def model_dir(source: Source) -> Path:
    from .. import models

    return models.home() / "translate" / source.folder


def ready(source: Source) -> bool:
    folder = model_dir(source)
    return all((folder / name).is_file() for _, name in source.files)


def fetch(source: Source) -> Path:
    """The model folder, downloading missing files once (unless SCENEGLOT_OFFLINE=1)."""
    from .. import models

    folder = model_dir(source)
    stamp_file = folder / STAMP
    if ready(source):
        _check_stamp(folder, stamp_file)
        return folder
    if models.offline():
        raise ModelError(f"{source.folder} is not in the model cache ({folder}) and SCENEGLOT_OFFLINE is set: "
                         f"run once online or put a CTranslate2 conversion there")
    folder.mkdir(parents=True, exist_ok=True)
    for repo, name in source.files:
        target = folder / name
        if target.is_file():
            continue
        url = HUB.format(repo=repo, file=name)
        try:
            models.fetch(url, target)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise ModelError(f"{source.folder}: download of {url} failed ({getattr(exc, 'reason', exc)}); "
                             f"or put a CTranslate2 conversion in {folder}") from None
    stamp = {name: models.sha256(folder / name) for _, name in source.files}
    write_text_atomic(stamp_file, json.dumps(stamp, indent=1))
    return folder


def _check_stamp(folder: Path, stamp_file: Path) -> None:
    from .. import models

    try:
        stamp = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        return  # a folder the user converted and placed there: nothing recorded to compare with
    for name, digest in stamp.items():
        if not models.verified(folder / name, digest):
            raise ModelError(f"{folder / name} changed since it was downloaded (sha256 mismatch): delete {folder}")


# Tokenisation glue, kept pure so it is testable with any SentencePiece model.

def nllb_source_tokens(pieces: list[str], src_code: str) -> list[str]:
    """NLLB encoder input: language code, SentencePiece pieces, end of sentence."""
    return [src_code, *pieces, "</s>"]


def marian_source_tokens(pieces: list[str]) -> list[str]:
    """OPUS-MT (Marian) encoder input: pieces then end of sentence (no language token for 1:1 pairs)."""
    return [*pieces, "</s>"]


def strip_target(tokens: list[str], prefix: str | None = None) -> list[str]:
    """Drop the forced target-language token and any special tokens the decoder emitted."""
    out = tokens[1:] if prefix is not None and tokens[:1] == [prefix] else tokens
    return [t for t in out if t not in {"</s>", "<s>", "<pad>", "<unk>"}]


def detokenize(pieces: list[str]) -> str:
    """SentencePiece pieces back to text: '▁' marks a word start."""
    return "".join(pieces).replace("▁", " ").strip()


class _CT2Base:
    uses_context = False
    batch_size = 16

    def __init__(self, **_options) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple] = {}

    def _load(self, src: Source):
        with self._lock:
            if src.folder not in self._loaded:
                import ctranslate2
                import sentencepiece

                folder = fetch(src)
                translator = ctranslate2.Translator(str(folder), device="cpu", compute_type="int8", inter_threads=1,
                                                    intra_threads=2)
                names = [n for _, n in src.files if n.endswith((".spm", ".model"))]
                sps = [sentencepiece.SentencePieceProcessor(model_file=str(folder / n)) for n in names]
                self._loaded[src.folder] = (translator, sps)
            return self._loaded[src.folder]


class NLLBTranslator(_CT2Base):
    name = "nllb"
    variant = "600M-int8"

    def info(self) -> BackendInfo:
        src = nllb_source()
        have = ready(src)
        return BackendInfo(self.name, have, f"{len(NLLB_CODES)} languages, any pair", offline=True,
                           how="" if have else f"download once: `sceneglot translators --download nllb` "
                                               f"(into {model_dir(src)})",
                           note="NLLB-200 distilled 600M, CC-BY-NC-4.0")

    def supports(self, source: str, target: str) -> bool:
        return source in NLLB_CODES and target in NLLB_CODES and source != target

    def translate(self, request: Request) -> list[str]:
        if not self.supports(request.source, request.target):
            raise BackendError(f"nllb has no code for {request.source}->{request.target}")
        translator, (sp,) = self._load(nllb_source())
        src_code, tgt_code = NLLB_CODES[request.source], NLLB_CODES[request.target]
        batch = [nllb_source_tokens(sp.encode(p.text, out_type=str), src_code) for p in request.phrases]
        results = translator.translate_batch(batch, target_prefix=[[tgt_code]] * len(batch), beam_size=4,
                                             max_decoding_length=256)
        out = [detokenize(strip_target(r.hypotheses[0], tgt_code)) for r in results]
        return check_aligned(self.name, request, out)


class OpusMTTranslator(_CT2Base):
    name = "opus-mt"
    variant = "ct2"

    def info(self) -> BackendInfo:
        from .. import models

        root = models.home() / "translate"
        have = sorted(p.name.removeprefix("opus-mt-") for p in root.glob("opus-mt-*-*") if p.is_dir()) \
            if root.is_dir() else []
        pairs = ", ".join(have) if have else "one model per pair (Helsinki-NLP OPUS-MT)"
        how = "" if have else "download once: `sceneglot translators --download opus-mt:SRC-TGT`"
        return BackendInfo(self.name, bool(have), pairs, offline=True, how=how, note=f"models in {root}")

    def supports(self, source: str, target: str) -> bool:
        """A published pair (OPUS_PAIRS) or one whose model is in the cache; whether it is here is `how_for`'s."""
        return (source, target) in OPUS_PAIRS or (source != target and ready(opus_source(source, target)))

    def how_for(self, source: str, target: str) -> str:
        """'' when the pair's model is in the cache, else what to run to get it."""
        if ready(opus_source(source, target)):
            return ""
        return f"download once: `sceneglot translators --download opus-mt:{source}-{target}`"

    def translate(self, request: Request) -> list[str]:
        translator, (sp_src, _sp_tgt) = self._load(opus_source(request.source, request.target))
        batch = [marian_source_tokens(sp_src.encode(p.text, out_type=str)) for p in request.phrases]
        results = translator.translate_batch(batch, beam_size=4, max_decoding_length=256)
        out = [detokenize(strip_target(r.hypotheses[0])) for r in results]
        return check_aligned(self.name, request, out)
