"""Hand a finished stage's freed memory back to the OS.

glibc keeps freed heap in its per-thread arenas for reuse, so a process's RSS
stays at its highest point long after a stage dropped its buffers: measured on
a 2-minute input, 200 MB stayed held after diarization until `malloc_trim`.
The job pipeline calls `release()` when a stage that allocates a lot ends, so
the next stage (or the one running beside it) starts from what is really in use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from functools import cache


@cache
def _trim():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        return libc.malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to trim
        return None


def release() -> None:
    """Collect cycles, then return every arena's free pages to the OS (glibc's malloc_trim)."""
    gc.collect()
    trim = _trim()
    if trim is not None:
        trim(0)


__all__ = ["release"]
