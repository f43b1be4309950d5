"""Speech regions from Silero VAD v6 (the ONNX file shipped inside faster-whisper, store name "silero-vad").

One VAD pass serves both ASR (regions merged into chunks with context) and
diarization (tight regions, so embeddings are not diluted by silence).
"""

from __future__ import annotations

import numpy as np

SR = 16000


def speech_regions(
    audio: np.ndarray, sample_rate: int = SR, threshold: float = 0.5,
    min_silence: float = 0.25, min_speech: float = 0.15, pad: float = 0.05,
) -> list[tuple[float, float]]:
    """(start, end) seconds of speech; empty for silence, noise or audio shorter than one VAD window."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from .. import models

    models.path("silero-vad")  # verifies the shipped file's sha256 before faster-whisper loads it
    if sample_rate != SR:
        raise ValueError("speech_regions expects 16 kHz audio")
    if audio.size < SR // 10:
        return []
    opts = VadOptions(threshold=threshold, min_silence_duration_ms=int(min_silence * 1000),
                      min_speech_duration_ms=int(min_speech * 1000), speech_pad_ms=int(pad * 1000))
    stamps = get_speech_timestamps(np.asarray(audio, np.float32), opts, sampling_rate=SR)
    return [(s["start"] / SR, s["end"] / SR) for s in stamps]


def merge_regions(
    regions: list[tuple[float, float]], max_gap: float, max_len: float = 30.0
) -> list[tuple[float, float]]:
    """Join regions separated by less than `max_gap` s while the result stays under `max_len` s."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(regions):
        if out and start - out[-1][1] < max_gap and end - out[-1][0] <= max_len:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out
