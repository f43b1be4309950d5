"""pyannote segmentation-3.0 (PyanNet) run on onnxruntime: who of up to 3 local speakers talks when.

Why: a one-speaker-per-moment diarizer cannot score overlapped speech. This network
looks at 10 s of audio and says, for every 16.875 ms frame, which of up to 3 local
speakers talk (at most 2 at once), as 7 "powerset" classes. The network itself is
written out in torch in speech/pyannet.py; it runs here from its one-off ONNX export
(speech/export.py), so a job with the export cached never imports torch.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .. import jobs, models

SAMPLE_RATE = 16000
WINDOW = 160000  # samples per chunk (10 s)
FRAME_STEP = 270  # samples between output frames (stride 10 x three max-pools of 3)
FRAME_SPAN = 991  # samples in one output frame's receptive field
# Powerset classes -> the set of local speakers active (3 speakers, at most 2 at once).
POWERSET = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
_TABLE = np.array([[float(j in spk) for j in range(3)] for spk in POWERSET], np.float32)


def frame_times(n: int) -> np.ndarray:
    """Centre (s, from chunk start) of each output frame."""
    return (np.arange(n) * FRAME_STEP + FRAME_SPAN / 2) / SAMPLE_RATE


def powerset_to_speakers(logp: np.ndarray) -> np.ndarray:
    """(..., 7) powerset (log-)probabilities -> (..., 3) 0/1 activity of each local speaker (argmax class)."""
    return _TABLE[logp.argmax(-1)]


def chunk_starts(n_samples: int, step: int) -> list[int]:
    """Sample offsets of 10 s chunks every `step` samples; the last one ends at the audio's end."""
    if n_samples <= WINDOW:
        return [0]
    starts = list(range(0, n_samples - WINDOW, step))
    if starts[-1] + WINDOW < n_samples:
        starts.append(n_samples - WINDOW)
    return starts


@cache
def load():
    """The exported network on onnxruntime (CUDA when the build has it), one thread: the recurrence is
    thousands of tiny steps, and on the shared 2-core CPU a second thread waiting on each step's barrier
    made torch's LSTM 5-10x slower (measured)."""
    from . import export

    return models.onnx_session(export.onnx_paths("segmentation")["segmentation"], threads=1, denormals_zero=True)


def probabilities(audio: np.ndarray, starts: list[int], batch: int = 4) -> np.ndarray:
    """Powerset probabilities (len(starts), 589, 7) of the 10 s chunks at `starts` (samples); a chunk
    running past the audio's end is zero-padded, as the network was trained on 10 s.

    `batch` 4, not 16: SincNet's 80-channel first layer holds ~5 MB per chunk several times over, so
    16 chunks at once peaked 270 MB above the model, 4 at once 70 MB, at the same speed and with
    identical probabilities (measured in torch on 64 chunks of the 1-minute benchmark input, one thread)."""
    net = load()
    out = []
    for i in range(0, len(starts), batch):
        jobs.step(i, len(starts), "chunks")  # progress; a cancelled job stops here
        chunk = np.zeros((len(starts[i:i + batch]), 1, WINDOW), np.float32)
        for j, s in enumerate(starts[i:i + batch]):
            piece = audio[s:s + WINDOW]
            chunk[j, 0, :len(piece)] = piece
        out.append(net.run(None, {"waveform": chunk})[0])
    return np.concatenate(out) if out else np.zeros((0, 589, len(POWERSET)), np.float32)


def segment(audio: np.ndarray, step: float = 1.0, batch: int = 16) -> tuple[list[int], np.ndarray]:
    """Chunk offsets (samples) and per-chunk hard local speaker activity (chunks, 589, 3), 0/1."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    starts = chunk_starts(len(audio), max(1, int(step * SAMPLE_RATE)))
    return starts, powerset_to_speakers(probabilities(audio, starts, batch))
