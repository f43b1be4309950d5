"""Rows a stage makes as it goes, kept on disk instead of in memory and handed back memory-mapped.

Why: diarization's CAM++ frame features (512 float16 a row, ~184 MiB an hour) and the asd stage's
Light-ASD encoder rows (128 a row, ~23 MiB per hour of soundtrack and per hour of each face) are
kept for the attribution, which reads a few turns' worth at a time. Held in lists until the stage
ended and then concatenated, they cost their size twice at the peak. A `RowSpool` appends each
block to an unlinked scratch file as it is made (the OS removes the file when the last map or
handle goes, whatever happens to the process) and `rows()` maps it: the pages a reader touches are
read, nothing is held. A map pickles as a plain array (a Ray task's result travels whole).
"""

from __future__ import annotations

import tempfile

import numpy as np


class RowSpool:
    """Rows of `width` values (`dtype`, float16 by default) appended in order to an unlinked scratch file
    (in `folder`, else the system's temporary folder)."""

    def __init__(self, width: int, dtype: np.dtype | type = np.float16, folder: str | None = None) -> None:
        self.width, self.dtype = width, np.dtype(dtype)
        self._fh = tempfile.TemporaryFile(prefix="sceneglot-rows-", dir=folder)  # noqa: SIM115 (the map keeps it open)
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def write(self, rows: np.ndarray) -> int:
        """Append (n, width) rows; the index of the first of them in `rows()`."""
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[1] != self.width:
            raise ValueError(f"a spool of {self.width}-wide rows was given shape {rows.shape}")
        at = self._rows
        self._fh.write(np.ascontiguousarray(rows, self.dtype).tobytes())
        self._rows += len(rows)
        return at

    def rows(self) -> np.ndarray:
        """Every row written so far, (n, width), memory-mapped read-only (an empty array when none was)."""
        self._fh.flush()
        if self._rows == 0:
            return np.zeros((0, self.width), self.dtype)
        return np.memmap(self._fh, self.dtype, "r", shape=(self._rows, self.width))

    def close(self) -> None:
        """Drop the spool's own handle (maps made by `rows()` keep the file until they go)."""
        self._fh.close()


__all__ = ["RowSpool"]
