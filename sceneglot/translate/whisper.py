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

SAMPLE_RATE = 16000
PAD = 0.25  # seconds of audio added before and after each sentence
_WHISPER_CODE = {"jv": "jw"}  # norm_lang's ISO code -> the one Whisper's tokenizer knows


def _model_name() -> str:
    """The ASR's model (AsrOptions' default, $SCENEGLOT_WHISPER): one Whisper per process serves both."""
    from ..speech.asr import AsrOptions

    return AsrOptions().model


def _whisper():
    from ..speech.asr import load_model

    return load_model(_model_name())


def audio_spans(path: str, spans: list[tuple[float, float]]) -> list[np.ndarray]:
    """The samples of each (start, end) span, read in one streaming pass over the soundtrack."""
    from ..media import iter_audio

    bounds = [(max(0, int(s * SAMPLE_RATE)), max(0, int(e * SAMPLE_RATE))) for s, e in spans]
    pieces: list[list[np.ndarray]] = [[] for _ in spans]
    last = max((b for _, b in bounds), default=0)
    offset = 0
    for chunk in iter_audio(path, SAMPLE_RATE):
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
        if not request.audio_path:
            raise BackendError("the whisper translator works from the audio: give it the input media file")
        spans = [(max(0.0, p.start - PAD), p.end + PAD) for p in request.phrases]
        model = _whisper()
        language = _WHISPER_CODE.get(request.source, request.source) or None
        out = []
        for audio in audio_spans(request.audio_path, spans):
            if len(audio) < SAMPLE_RATE // 10:
                out.append("")  # no audio there (past the end of the file)
                continue
            # A translation scores lower than a transcript, so the log-probability fallback would re-decode
            # nearly every sentence at five temperatures; the compression-ratio check still catches loops,
            # and the token cap (speech runs at ~4 English tokens/s) keeps a loop from running to 448.
            seconds = len(audio) / SAMPLE_RATE
            segments, _ = model.transcribe(audio, task="translate", language=language, beam_size=5,
                                           condition_on_previous_text=False, without_timestamps=True,
                                           vad_filter=False, log_prob_threshold=None,
                                           max_new_tokens=int(16 + 12 * seconds))
            out.append(" ".join(s.text.strip() for s in segments).strip())
        return check_aligned(self.name, request, out)
