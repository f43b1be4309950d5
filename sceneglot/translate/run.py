"""translate_scene: sentences per speaker -> cache -> backend in batches -> pieces back on the segments."""

from __future__ import annotations

import copy
import os
from collections import defaultdict

from ..errors import BackendError, InputError
from ..scene import Scene
from .base import Phrase, Request, Translator, norm_lang, pick
from .cache import Cache, make_key
from .sentences import Sentence, join, spread


def _context_key(request: Request, phrase: Phrase) -> str:
    before, after = request.neighbours(phrase, 2)
    return "\x1e".join([phrase.speaker or "", *(p.text for p in before), "|", *(p.text for p in after)])


def translate_sentences(backend: Translator, source: str, target: str, sentences: list[Sentence],
                        cache: Cache, audio_path: str | None = None) -> list[str]:
    """One translation per sentence; cached ones are reused, new ones are cached batch by batch."""
    lines = tuple(Phrase(i, s.text, s.speaker, s.start, s.end) for i, s in enumerate(sentences))
    whole = Request(lines, source, target, lines, audio_path)
    backend_key = f"{backend.name}:{backend.variant}"
    if getattr(backend, "needs_audio", False):  # translations come from the audio: the file and span are the key
        keys = [make_key(backend_key, source, target, f"{audio_path}@{p.start:.2f}-{p.end:.2f}", p.text)
                for p in lines]
    else:
        keys = [make_key(backend_key, source, target, p.text, _context_key(whole, p) if backend.uses_context else "")
                for p in lines]
    done = cache.get_many(keys)
    todo = [p for p, k in zip(lines, keys, strict=True) if k not in done]
    size = max(1, int(getattr(backend, "batch_size", 16)))
    for i in range(0, len(todo), size):
        batch = tuple(todo[i:i + size])
        out = backend.translate(Request(batch, source, target, lines, audio_path))
        if len(out) != len(batch):
            raise BackendError(f"translator {backend.name} returned {len(out)} translations for {len(batch)}")
        rows = []
        for phrase, text in zip(batch, out, strict=True):
            done[keys[phrase.id]] = text
            rows.append((keys[phrase.id], backend_key, source, target, phrase.text, text))
        cache.put_many(rows)
    return [done[k] for k in keys]


def translate_scene(scene: Scene, target: str, *, translator: str | None = None, audio_path: str | None = None,
                    cache_path: str | os.PathLike | None = None, options: dict | None = None) -> Scene:
    """A copy of `scene` with segments[].translation and target_language filled.

    Sentences are grouped by source language; each language gets the named
    backend or the best available one (BackendError listing what would work
    when none can). Segments already in the target language keep their text.
    """
    tgt = norm_lang(target)
    if not tgt or not tgt.isalpha():
        raise InputError(f"not a language code: {target!r} (use e.g. en, pt, es)")
    out = copy.deepcopy(scene)
    sentences = join(out.segments, out.source_language or "")
    by_lang: dict[str, list[Sentence]] = defaultdict(list)
    for s in sentences:
        by_lang[s.language].append(s)
    audio = audio_path or (out.media.path if out.media.has_audio and out.media.path else None)
    if audio and not os.path.isfile(audio):
        audio = None
    backends: dict[str, Translator] = {}
    for lang in by_lang:
        if lang != tgt:
            backends[lang] = pick(lang, tgt, translator, options, has_audio=audio is not None)
    with Cache(cache_path) as cache:
        for lang, group in by_lang.items():
            if lang == tgt:
                translations = [s.text for s in group]
            else:
                translations = translate_sentences(backends[lang], lang, tgt, group, cache, audio)
            for sentence, text in zip(group, translations, strict=True):
                for idx, piece in zip(sentence.indices, spread(sentence, text, tgt), strict=True):
                    out.segments[idx].translation = piece
    for seg in out.segments:
        if not seg.text.strip():
            seg.translation = ""
    out.target_language = tgt
    return out
