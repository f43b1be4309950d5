"""The Translator protocol, the records it trades in, and the registry of backends (route.py chooses).

A backend gets whole sentences (already joined across subtitle cuts) with
their speaker and neighbours, and must return exactly one translation per
sentence, in order; `check_aligned` enforces that for every backend so a
misbehaving one can never shift subtitles onto the wrong lines.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import BackendError
from ..scene import Heard

# Languages whose code differs between ASR output and what people type.
_ALIASES = {"pt-br": "pt", "pt-pt": "pt", "en-us": "en", "en-gb": "en", "iw": "he", "jw": "jv"}


def norm_lang(code: str | None) -> str:
    """Lower-case ISO 639-1 base code ('PT-BR' -> 'pt'); '' for None."""
    if not code:
        return ""
    low = code.strip().lower().replace("_", "-")
    return _ALIASES.get(low, low.split("-")[0])


@dataclass(frozen=True)
class Phrase:
    """One unit to translate: a whole sentence of one speaker, with its time span."""

    id: int
    text: str
    speaker: str | None = None
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class SourceAudio:
    """The speech a scene was transcribed from, for backends that translate the audio (whisper)."""

    path: str
    stream: int | None = None  # which of the file's audio streams was heard (None: media.audio_stream's pick)
    english: tuple[Heard, ...] = ()  # Whisper's English the ASR pass decoded on the same audio, timed

    @property
    def key(self) -> str:
        """The file and stream, as the translation cache keys a span of it."""
        return self.path if self.stream is None else f"{self.path}#{self.stream}"


@dataclass(frozen=True)
class Request:
    """A batch of phrases in one language pair; `lines` is the whole dialogue, for context."""

    phrases: tuple[Phrase, ...]
    source: str
    target: str
    lines: tuple[Phrase, ...] = ()
    audio: SourceAudio | None = None  # for backends that work from the speech itself

    def neighbours(self, phrase: Phrase, n: int = 2) -> tuple[list[Phrase], list[Phrase]]:
        """Up to `n` dialogue lines before and after `phrase` (any speaker)."""
        lines = self.lines or self.phrases
        idx = next((i for i, p in enumerate(lines) if p.id == phrase.id), None)
        if idx is None:
            return [], []
        return list(lines[max(0, idx - n):idx]), list(lines[idx + 1:idx + 1 + n])


@dataclass(frozen=True)
class BackendInfo:
    name: str
    available: bool
    pairs: str  # human description of the language pairs
    offline: bool  # works without network once set up
    how: str = ""  # what to do to make it available (empty when available)
    note: str = ""


@runtime_checkable
class Translator(Protocol):
    name: str
    # Used in the cache key: changes when options change the output (formality, model).
    variant: str
    # Whether translations depend on neighbouring lines (the cache key then includes them).
    uses_context: bool

    def info(self) -> BackendInfo: ...

    def supports(self, source: str, target: str) -> bool: ...

    def translate(self, request: Request) -> list[str]: ...


def check_aligned(name: str, request: Request, out: Sequence[str]) -> list[str]:
    """One non-None string per phrase, or BackendError: alignment is a contract, not a hope."""
    out = list(out)
    if len(out) != len(request.phrases) or not all(isinstance(t, str) for t in out):
        raise BackendError(
            f"translator {name} returned {len(out)} translations for {len(request.phrases)} phrases"
        )
    return [t.strip() for t in out]


# Preference order when several backends can do a pair: quality first, then offline ones.
BACKENDS: dict[str, str] = {
    "deepl": "sceneglot.translate.deepl:DeepLTranslator",
    "openai": "sceneglot.translate.openai_compat:OpenAITranslator",
    "nllb": "sceneglot.translate.ctranslate:NLLBTranslator",
    "opus-mt": "sceneglot.translate.ctranslate:OpusMTTranslator",
    "bergamot": "sceneglot.translate.bergamot:BergamotTranslator",
    "apertium": "sceneglot.translate.apertium:ApertiumTranslator",
    "whisper": "sceneglot.translate.whisper:WhisperTranslator",
}


def create(name: str, options: dict | None = None) -> Translator:
    """Instantiate backend `name` (cheap: models load on first translate)."""
    try:
        spec = BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown translator {name!r}; known: {', '.join(BACKENDS)}") from None
    module, _, cls = spec.partition(":")
    return getattr(importlib.import_module(module), cls)(**(options or {}))


def all_backends(options: dict | None = None) -> list[Translator]:
    return [create(name, options) for name in BACKENDS]


def available(options: dict | None = None) -> list[BackendInfo]:
    """Every backend's availability, pairs and what would enable it."""
    return [t.info() for t in all_backends(options)]
