"""Rows a stage makes as it goes, kept on disk instead of in memory and handed back memory-mapped.

Why: diarization's CAM++ frame features (512 float16 a row, ~184 MiB an hour) and the asd stage's
Light-ASD encoder rows (128 a row, ~23 MiB per hour of soundtrack and per hour of each face) are
kept for the attribution, which reads a few turns' worth at a time. Held in lists until the stage
ended and then concatenated, they cost their size twice at the peak. A `RowSpool` appends each
block to an unlinked scratch file as it is made (the OS removes the file when the last map or
handle goes, whatever happens to the process) and `rows()` maps it: the pages a reader touches are
read, nothing is held. A map pickles as a plain array (a Ray task's result travels whole).

A mapped page once read stays in the process's resident set as long as the map lives (file-backed, so
the OS may drop it, but it counts in RSS): copying an hour's CAM++ features to the job folder through
their map, at the end of diarization, added their 184 MiB to RSS beside ASR and faces while it ran.
`save_rows` copies a map a block at a time and `release`s its pages after each block.
"""

from __future__ import annotations

import contextlib
import mmap
import tempfile

import numpy as np

BLOCK = 1 << 14  # rows copied between releases (8 MiB of 512 float16)


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


def release(rows: np.ndarray) -> None:
    """Drop the pages of the memory map `rows` lies in from this process's resident set (MADV_DONTNEED):
    the file and the OS's page cache keep them and a later read faults them back in. Anything that is not
    a read-only map (numpy.memmap's `_mmap`, mode "r"; a copy-on-write map's own pages would be lost):
    nothing to do."""
    whole = getattr(rows, "_mmap", None)
    if whole is None or getattr(rows, "mode", None) != "r" or not hasattr(mmap, "MADV_DONTNEED"):
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):  # a closed map, a system without madvise
        whole.madvise(mmap.MADV_DONTNEED)


def write_rows(fh, rows: np.ndarray, dtype: np.dtype | type | None = None) -> None:
    """`rows` as `dtype` (theirs by default), C order, appended to the binary file `fh` BLOCK rows at a time,
    each block's mapped pages released once written: never the whole map resident at once."""
    rows = np.asanyarray(rows)  # a map stays a map (its pages are what release drops)
    dtype = np.dtype(rows.dtype if dtype is None else dtype)
    for at in range(0, len(rows), BLOCK):
        fh.write(np.ascontiguousarray(rows[at:at + BLOCK], dtype).tobytes())
        release(rows)


def save_rows(fh, rows: np.ndarray, dtype: np.dtype | type | None = None) -> None:
    """np.save(fh, rows.astype(dtype)) to the byte, written by write_rows (a map is never all resident)."""
    rows = np.asanyarray(rows)
    dtype = np.dtype(rows.dtype if dtype is None else dtype)
    np.lib.format.write_array_header_1_0(fh, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                                              "shape": tuple(rows.shape)})
    write_rows(fh, rows, dtype)


__all__ = ["BLOCK", "RowSpool", "release", "save_rows", "write_rows"]
