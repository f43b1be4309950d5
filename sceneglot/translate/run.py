"""translate_scene: sentences per speaker -> route (one or two legs) -> cache -> backend in batches -> pieces back."""

from __future__ import annotations

import copy
import dataclasses
import os
from collections import defaultdict
from collections.abc import Sequence

from ..errors import BackendError
from ..scene import Heard, Scene
from . import route as route_mod
from .base import Phrase, Request, SourceAudio, Translator, all_backends
from .cache import Cache, make_key
from .route import PIVOT, Route
from .sentences import Sentence, join, spread


def _context_key(request: Request, phrase: Phrase) -> str:
    before, after = request.neighbours(phrase, 2)
    return "\x1e".join([phrase.speaker or "", *(p.text for p in before), "|", *(p.text for p in after)])


def translate_sentences(backend: Translator, source: str, target: str, sentences: list[Sentence],
                        cache: Cache, audio: SourceAudio | None = None) -> list[str]:
    """One translation per sentence; cached ones are reused, new ones are cached batch by batch."""
    lines = tuple(Phrase(i, s.text, s.speaker, s.start, s.end) for i, s in enumerate(sentences))
    whole = Request(lines, source, target, lines, audio)
    backend_key = f"{backend.name}:{backend.variant}"
    if getattr(backend, "needs_audio", False):  # translations come from the audio: the file, stream, span are the key
        where = audio.key if audio else None
        keys = [make_key(backend_key, source, target, f"{where}@{p.start:.2f}-{p.end:.2f}", p.text)
                for p in lines]
    else:
        keys = [make_key(backend_key, source, target, p.text, _context_key(whole, p) if backend.uses_context else "")
                for p in lines]
    done = cache.get_many(keys)
    todo = [p for p, k in zip(lines, keys, strict=True) if k not in done]
    size = max(1, int(getattr(backend, "batch_size", 16)))
    for i in range(0, len(todo), size):
        batch = tuple(todo[i:i + size])
        out = backend.translate(Request(batch, source, target, lines, audio))
        if len(out) != len(batch):
            raise BackendError(f"translator {backend.name} returned {len(out)} translations for {len(batch)}")
        rows = []
        for phrase, text in zip(batch, out, strict=True):
            done[keys[phrase.id]] = text
            rows.append((keys[phrase.id], backend_key, source, target, phrase.text, text))
        cache.put_many(rows)
    return [done[k] for k in keys]


def _through(sentences: list[Sentence], texts: list[str]) -> list[Sentence]:
    """The same sentences (times, speaker) carrying another leg's text, for the next leg of a pivot."""
    return [dataclasses.replace(s, parts=(t,)) for s, t in zip(sentences, texts, strict=True)]


def run_route(route: Route, sentences: list[Sentence], cache: Cache,
              audio: SourceAudio | None = None) -> tuple[list[str], list[str] | None]:
    """(target text, English pivot or None) per sentence, leg after leg; whole sentences through both."""
    texts, pivot = [s.text for s in sentences], None
    current = sentences
    for k, leg in enumerate(route.legs):
        texts = translate_sentences(leg.backend, leg.source, leg.target, current, cache, audio)
        if k < len(route.legs) - 1:
            pivot = texts
            current = _through(sentences, texts)
    return texts, pivot


def translate_scene(scene: Scene, target: str, *, translator: str | None = None, audio_path: str | None = None,
                    cache_path: str | os.PathLike | None = None, options: dict | None = None,
                    english: Sequence[Heard] = ()) -> Scene:
    """A copy of `scene` with segments[].translation, .pivot, .route and target_language filled.

    Sentences are grouped by source language and each language takes its own
    route (`route.plan`: direct when a backend does the pair, else through
    English), so phrases of a code-switching speaker each go their own way.
    Segments already in the target language keep their text (route null).
    `audio_path` (default: the scene's media) is heard on the scene's audio
    stream; `english` is what the ASR pass decoded of Whisper's English there
    (the speech stage's record), used by the whisper leg where it covers a sentence.
    """
    tgt = route_mod.check_language(target)
    out = copy.deepcopy(scene)
    sentences = join(out.segments, out.source_language or "")
    by_lang: dict[str, list[Sentence]] = defaultdict(list)
    for s in sentences:
        by_lang[s.language].append(s)
    path = audio_path or (out.media.path if out.media.has_audio and out.media.path else None)
    audio = SourceAudio(path, out.media.audio_stream, tuple(english)) if path and os.path.isfile(path) else None
    backends = all_backends(options)
    routes = {lang: route_mod.plan(lang, tgt, translator, options, has_audio=audio is not None, backends=backends)
              for lang in by_lang}  # every language is planned before the first sentence is sent
    with Cache(cache_path) as cache:
        for lang, group in by_lang.items():
            route = routes[lang]
            translations, pivots = run_route(route, group, cache, audio)
            for n, (sentence, text) in enumerate(zip(group, translations, strict=True)):
                through = spread(sentence, pivots[n], PIVOT) if pivots else [None] * len(sentence.indices)
                pieces = spread(sentence, text, tgt)
                for idx, piece, en in zip(sentence.indices, pieces, through, strict=True):
                    seg = out.segments[idx]
                    seg.translation, seg.pivot, seg.route = piece, en, route.name or None
    for seg in out.segments:
        if not seg.text.strip():
            seg.translation, seg.pivot, seg.route = "", None, None
    out.target_language = tgt
    return out
