"""Any language -> English straight from the audio, with Whisper's translate task (faster-whisper).

Useful when no text backend knows the source language: Whisper base was
trained to translate speech in ~99 languages into English. Each sentence's
audio span (padded a little, Whisper clips word onsets otherwise) is decoded
with task="translate"; the transcript text is not used, so ASR errors do not
compound. Only the spans are kept in memory, the soundtrack is streamed.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import BackendError
from .base import BackendInfo, Request, check_aligned
from .languages import whisper_languages
from .sentences import ends_sentence, split

SAMPLE_RATE = 16000
PAD = 0.25  # seconds of audio added before and after each sentence
COVER = 0.8  # share of a sentence the speech stage's English must span to be used for it
_WHISPER_CODE = {"jv": "jw"}  # norm_lang's ISO code -> the one Whisper's tokenizer knows


def _model_name() -> str:
    """The ASR's model (the store's default, $SCENEGLOT_WHISPER): one Whisper per process serves both."""
    from .. import models

    return models.default_whisper()


def _whisper():
    from ..speech.asr import load_model

    return load_model(_model_name())


def audio_spans(path: str, spans: list[tuple[float, float]], stream: int | None = None) -> list[np.ndarray]:
    """The samples of each (start, end) span of audio stream `stream`, read in one streaming pass over it."""
    from ..media import iter_audio, sample_index

    bounds = [(max(0, sample_index(s, SAMPLE_RATE)), max(0, sample_index(e, SAMPLE_RATE))) for s, e in spans]
    pieces: list[list[np.ndarray]] = [[] for _ in spans]
    last = max((b for _, b in bounds), default=0)
    offset = 0
    for chunk in iter_audio(path, SAMPLE_RATE, stream=stream):
        lo, hi = offset, offset + len(chunk)
        for k, (a, b) in enumerate(bounds):
            if a < hi and b > lo:
                pieces[k].append(chunk[max(a, lo) - lo:min(b, hi) - lo])
        offset = hi
        if offset >= last:
            break
    return [np.concatenate(p) if p else np.zeros(0, np.float32) for p in pieces]


class WhisperTranslator:
    name = "whisper"
    uses_context = False
    needs_audio = True  # works from the input's audio spans, not the text
    batch_size = 8

    def __init__(self, **_options) -> None:
        self.model = _model_name()
        self.variant = os.path.basename(self.model.rstrip("/")) or self.model  # the cache key follows the model

    def info(self) -> BackendInfo:
        from .. import models

        if os.path.isdir(self.model):
            ok, where = True, self.model
        else:
            status = models.status(self.model)
            ok, where = status.available, status.where
        return BackendInfo(self.name, ok, "any->en (from the audio)", offline=True,
                           how="" if ok else where, note=f"{self.variant}; needs the input's audio")

    def supports(self, source: str, target: str) -> bool:
        """Into English from any language Whisper hears; '' (not known yet) lets Whisper detect it."""
        heard = not source or _WHISPER_CODE.get(source, source) in whisper_languages()
        return target == "en" and source != "en" and heard

    def translate(self, request: Request) -> list[str]:
        source = request.audio
        if source is None:
            raise BackendError("the whisper translator works from the audio: give it the input media file")
        language = _WHISPER_CODE.get(request.source, request.source) or None
        known = from_speech_stage(request, language)
        todo = [p for p in request.phrases if p.id not in known]
        spans = [(max(0.0, p.start - PAD), p.end + PAD) for p in todo]
        model = _whisper() if todo else None
        decoded = {}
        for phrase, audio in zip(todo, audio_spans(source.path, spans, source.stream) if todo else [], strict=True):
            decoded[phrase.id] = decode(model, audio, language)[0]
        out = [known[p.id] if p.id in known else decoded[p.id] for p in request.phrases]
        return check_aligned(self.name, request, out)


def max_new_tokens(model, language: str | None, seconds: float) -> int:
    """faster-whisper's max_new_tokens under which the translate task (no timestamps) decodes at most
    asr.english_cap(seconds) tokens: CTranslate2's Whisper stops at half of max_length = prompt +
    max_new_tokens (models.whisper_new_tokens), so asking for the cap itself gave about half of it."""
    from faster_whisper.tokenizer import Tokenizer

    from .. import models
    from ..speech.asr import english_cap

    # The prompt faster-whisper builds here: the translate task's start sequence (only <|startoftranscript|> for an
    # English-only model), then <|notimestamps|>; a language it detects itself (None) makes one of the same length.
    multilingual = model.model.is_multilingual
    start = Tokenizer(model.hf_tokenizer, multilingual, task="translate", language=language or "en").sot_sequence
    prompt = len(start) + 1
    return min(models.whisper_max_length(prompt, english_cap(seconds)), model.max_length) - prompt


def decode(model, audio: np.ndarray, language: str | None, seconds: float | None = None) -> tuple[str, int]:
    """One sentence's English from its own audio (a Whisper encoder pass over a padded 30 s window), and its
    Whisper tokens; at most asr.english_cap(seconds) of them per 30 s window (`seconds`: the audio's own)."""
    if len(audio) < SAMPLE_RATE // 10:
        return "", 0  # no audio there (past the end of the file)
    # A translation scores lower than a transcript, so the log-probability fallback would re-decode
    # nearly every sentence at five temperatures; the compression-ratio check still catches loops,
    # and the token cap (the riding English's own, asr.english_cap) keeps a loop from running to 224.
    seconds = len(audio) / SAMPLE_RATE if seconds is None else seconds
    segments, _ = model.transcribe(audio, task="translate", language=language, beam_size=5,
                                   condition_on_previous_text=False, without_timestamps=True,
                                   vad_filter=False, log_prob_threshold=None,
                                   max_new_tokens=max_new_tokens(model, language, seconds))
    segments = list(segments)
    return " ".join(s.text.strip() for s in segments).strip(), sum(len(s.tokens) for s in segments)


def from_speech_stage(request: Request, language: str | None) -> dict[int, str]:
    """English for the request's sentences from what the ASR pass already decoded (request.audio.english), by time.

    Each English line goes to the sentence (among all of this language's
    sentences) it overlaps most, if that covers at least half of the line; a
    line that holds two or more sentences (each at least half inside it: Whisper's English of "Новый
    магазин цветочная лавка. Мы создадим ..." is one line) is split back among them (spanned). A
    sentence is answered only when its lines cover at least COVER of it (a
    decode cut short by its token cap leaves the end uncovered), else it is
    decoded from its own audio.
    """
    heard = request.audio.english if request.audio else ()
    lines = [h for h in heard if language is None or h.language == language]
    if not lines:
        return {}
    every = request.lines or request.phrases
    got: dict[int, list[tuple[float, str, float]]] = {}
    for line in lines:
        overlaps = [(min(line.end, p.end) - max(line.start, p.start), p) for p in every]
        inside = sorted((o for o in overlaps if o[0] > 0 and o[0] >= 0.5 * (o[1].end - o[1].start)),
                        key=lambda o: o[1].start)
        if len(inside) >= 2:
            weights = [len(p.text) * o / max(p.end - p.start, 1e-3) for o, p in inside]  # its text under the line
            for (part, phrase), text in zip(inside, spanned(line.text, weights), strict=True):
                got.setdefault(phrase.id, []).append((max(line.start, phrase.start), text, part))
            continue
        best, phrase = max(overlaps, key=lambda o: o[0])
        if best > 0 and best >= 0.5 * (line.end - line.start):
            got.setdefault(phrase.id, []).append((line.start, line.text, best))
    out = {}
    for p in request.phrases:
        parts = sorted(got.get(p.id, []))
        if parts and sum(b for _, _, b in parts) >= COVER * max(p.end - p.start, 1e-3):
            out[p.id] = " ".join(text for _, text, _ in parts)
    return out


def spanned(text: str, weights: list[float]) -> list[str]:
    """An English line's text split among the len(weights) sentences it spans, in order: at its own sentence
    ends when it has as many sentences as they are, else at word boundaries in proportion to `weights` (each
    sentence's source text under the line; sentences.split, which prefers a cut after punctuation)."""
    ends: list[list[str]] = [[]]
    for word in text.split():
        ends[-1].append(word)
        if ends_sentence(word):
            ends.append([])
    ends = [e for e in ends if e]
    if len(ends) == len(weights):
        return [" ".join(e) for e in ends]
    return split(text, weights, "en")
