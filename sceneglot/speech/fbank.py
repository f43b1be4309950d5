"""Kaldi-compatible log-mel filterbank features in numpy (torchaudio is not a dependency).

CAM++ was trained on Kaldi `compute-fbank-feats` output (25 ms Povey window,
10 ms shift, pre-emphasis 0.97, DC removal, 512-point power spectrum, 80 mel
bins from 20 Hz to Nyquist, no dither), then mean-normalised per utterance;
the same recipe is reproduced here so the embedding sees what it was trained on.
"""

from __future__ import annotations

from functools import cache

import numpy as np

FRAME = 400  # 25 ms at 16 kHz
SHIFT = 160  # 10 ms
NFFT = 512
_EPS = np.finfo(np.float32).eps


def _mel(f: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


@cache
def mel_banks(num_bins: int = 80, sample_rate: int = 16000, low: float = 20.0, high: float = 0.0) -> np.ndarray:
    """Kaldi's triangular filters, linear in mel, sampled at FFT bin centres: (NFFT//2+1, num_bins)."""
    nyquist = sample_rate / 2
    high = high if high > 0 else nyquist + high
    mel_low, mel_high = _mel(low), _mel(high)
    delta = (mel_high - mel_low) / (num_bins + 1)
    left = mel_low + delta * np.arange(num_bins)
    centre, right = left + delta, left + 2 * delta
    mels = _mel(np.arange(NFFT // 2) * sample_rate / NFFT)[:, None]
    up = (mels - left) / (centre - left)
    down = (right - mels) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))
    banks = np.vstack([banks, np.zeros((1, num_bins))])  # the Nyquist bin carries no weight
    return banks.astype(np.float32)


@cache
def _povey() -> np.ndarray:
    n = np.arange(FRAME)
    return ((0.5 - 0.5 * np.cos(2 * np.pi * n / (FRAME - 1))) ** 0.85).astype(np.float32)


def fbank(audio: np.ndarray, sample_rate: int = 16000, num_bins: int = 80, cmn: bool = True) -> np.ndarray:
    """(frames, num_bins) float32 log mel energies; `cmn` subtracts the per-utterance mean."""
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if x.size < FRAME:
        return np.zeros((0, num_bins), np.float32)
    count = 1 + (x.size - FRAME) // SHIFT  # snip_edges: only whole frames
    idx = np.arange(FRAME)[None, :] + SHIFT * np.arange(count)[:, None]
    frames = x[idx].astype(np.float32)
    frames -= frames.mean(axis=1, keepdims=True)
    emph = frames.copy()
    emph[:, 1:] -= 0.97 * frames[:, :-1]
    emph[:, 0] -= 0.97 * frames[:, 0]
    emph *= _povey()
    power = np.abs(np.fft.rfft(emph, n=NFFT, axis=1)) ** 2
    feats = np.log(np.maximum(power.astype(np.float32) @ mel_banks(num_bins, sample_rate), _EPS))
    if cmn:
        feats -= feats.mean(axis=0, keepdims=True)
    return feats.astype(np.float32)
