"""The input's soundtrack decoded once to a scratch file, read back a window at a time.

Why: a long input's stages each need a few minutes of audio at a time, not the
whole (16 kHz mono float32: 230 MB an hour, and more in every copy a stage
makes). So the soundtrack is decoded once (streamed through media.iter_audio)
into an unlinked temporary file, and a stage reads the span it works on
(`track[a:b]` gives a float32 array of those samples, with `len(track)`
like an array's): diarization streams it block by block, ASR window by window,
active speakers and the attribution read each track's and turn's span; ASR of
an input no longer than one window asks `track.array()`, a copy it drops when
it ends. The file is removed by the OS when the Soundtrack is closed or
collected, whatever happens to the process.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

import numpy as np

RATE = 16000
_ITEM = np.dtype(np.float32).itemsize


class Soundtrack:
    """Samples at `RATE`, time 0 = container start; sliced like a 1-D float32 array (step 1 only)."""

    def __init__(self, path: str | os.PathLike, stream: int | None = None,
                 step: Callable[[float], None] | None = None, folder: str | None = None) -> None:
        from . import media

        self._fh = tempfile.TemporaryFile(prefix="sceneglot-audio-", dir=folder)  # noqa: SIM115 (lives with self)
        self._n = 0
        try:
            for chunk in media.iter_audio(path, RATE, stream=stream):
                self._fh.write(np.ascontiguousarray(chunk, np.float32).tobytes())
                self._n += len(chunk)
                if step is not None:
                    step(round(self._n / RATE, 3))
            self._fh.flush()
        except BaseException:
            self._fh.close()
            raise

    def __len__(self) -> int:
        return self._n

    @property
    def duration(self) -> float:
        return self._n / RATE

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a Soundtrack is read in contiguous spans: track[a:b]")
        a, b, _ = key.indices(self._n)
        if b <= a:
            return np.zeros(0, np.float32)
        out = np.empty(b - a, np.float32)
        view, at = memoryview(out).cast("B"), a * _ITEM
        while len(view):  # straight into the array: no bytes object in between
            got = os.preadv(self._fh.fileno(), [view], at)
            if got <= 0:
                raise OSError(f"the soundtrack's scratch file ended at byte {at}")
            view, at = view[got:], at + got
        return out

    def read(self, start: float, end: float) -> np.ndarray:
        """Samples from `start` to `end` seconds (media.sample_index: read_audio_span's bounds)."""
        from .media import sample_index

        return self[max(0, sample_index(start, RATE)):max(0, sample_index(end, RATE))]

    def array(self) -> np.ndarray:
        """The whole soundtrack as one array (a copy: the caller's to drop)."""
        return self[:]

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> Soundtrack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Spans:
    """The soundtrack read span by span straight from the input (media.seek_audio_span: a seek near
    each span's start), for a task that needs a few minutes of a long input and decodes nothing else
    (an ASR window on a Ray node). Sliced and read like a Soundtrack, with the same samples; its
    length is found, once, by decoding the last few seconds. Where a span cannot be read from a seek
    (timestamps that do not count samples, a gap or splice before it) the task decodes the whole
    soundtrack once to a Soundtrack and reads everything from it: never more decoding than that."""

    TAIL = 5.0  # s before the probed end where the length is looked for

    def __init__(self, path: str | os.PathLike, stream: int | None, duration: float) -> None:
        self.path, self.stream, self._probed = path, stream, duration
        self._n: int | None = None
        self._whole: Soundtrack | None = None
        self._held: tuple[int, np.ndarray] | None = None  # (first sample, samples) of hold()'s stretch

    def hold(self, start: float, end: float) -> Spans:
        """Decode `start` to `end` s once and serve the reads inside that stretch from it (4 bytes a sample:
        3.7 MiB a minute), for a task that reads many short spans of one stretch (active speakers' tracks of
        one run, pipeline.asd_stage); reads outside it seek as before."""
        from .media import sample_index

        a = max(0, sample_index(start, RATE))
        self._held = (a, self._span(a, max(a, sample_index(end, RATE))))
        return self

    def _span(self, a: int, b: int | None) -> np.ndarray:
        from . import media

        if self._held is not None and b is not None and self._held[0] <= a <= b <= self._held[0] + len(self._held[1]):
            first, held = self._held
            return held[a - first:b - first].copy()
        if self._whole is None:
            got = media.seek_audio_span(self.path, a / RATE, None if b is None else b / RATE, RATE, self.stream)
            if got is not None:
                return got
            self._whole = Soundtrack(self.path, self.stream)
        return self._whole[a:b]

    def __len__(self) -> int:
        if self._n is None:
            from .media import sample_index

            start = sample_index(max(0.0, self._probed - self.TAIL), RATE)
            tail = self._span(start, None)
            self._n = len(self._whole) if self._whole is not None else start + len(tail)
        return self._n

    @property
    def duration(self) -> float:
        return len(self) / RATE

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice) or key.step not in (None, 1) or (key.start or 0) < 0 \
                or (key.stop is not None and key.stop < 0):
            raise TypeError("Spans are read in contiguous spans from the start: track[a:b], a, b >= 0")
        return self._span(key.start or 0, key.stop)  # clipped at the end, as an array's slice is

    def read(self, start: float, end: float) -> np.ndarray:
        """Samples from `start` to `end` seconds (media.sample_index: read_audio_span's bounds)."""
        from .media import sample_index

        return self[max(0, sample_index(start, RATE)):max(0, sample_index(end, RATE))]

    def close(self) -> None:
        if self._whole is not None:
            self._whole.close()


__all__ = ["RATE", "Soundtrack", "Spans"]
