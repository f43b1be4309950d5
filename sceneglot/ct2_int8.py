"""A CTranslate2 model file with its weights stored as int8, made once from the float16 file in the store.

Loaded with compute type int8, CTranslate2 quantises every variable whose name ends in "weight" at each
load (per output row: scale = 127 / max |w|, round half to even; a convolution's kernel flattened to rows
first) and converts the other float variables to float32: ~0.5-1 CPU-s for Whisper base, every process,
every load. A file already holding int8 weights, their `_scale` variables and float32 others is loaded as
is. A convolution's weights stay float32 here: builds with oneDNN (the x86 wheels) run convolutions in
float and dequantise int8 ones at load, which would lose what float16 held; others quantise them at load
from float32 exactly as from float16. The arithmetic is the runtime's, in float32, so the loaded model is
the one the runtime would have built (tests/test_ct2_int8.py compares the encoder's output bit for bit).

The format (CTranslate2's `model.bin`, binary version >= 5, little-endian): u32 version, string spec name,
u32 spec revision, u32 variable count, per variable: string name, u8 rank, u32 dims, u8 dtype id, u32 byte
count, bytes; then u32 alias count and (alias, target) string pairs. A string is a u16 length counting a
trailing NUL, then the bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # CTranslate2's DataType ids (5: bfloat16)
ROUNDING_VERSION = 5  # from this binary version on, the runtime rounds before the cast (earlier ones truncate)


class FormatError(ValueError):
    """The file is not a CTranslate2 model this module can rewrite."""


def _read(fh: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise FormatError("truncated model file")
    return struct.unpack(fmt, data)


def _string(fh: BinaryIO) -> str:
    (length,) = _read(fh, "<H")
    raw = fh.read(length)
    if len(raw) != length or not raw.endswith(b"\0"):
        raise FormatError("bad string in model file")
    return raw[:-1].decode("utf-8")


def _write_string(fh: BinaryIO, text: str) -> None:
    raw = text.encode("utf-8") + b"\0"
    fh.write(struct.pack("<H", len(raw)) + raw)


def _variables(fh: BinaryIO, count: int) -> Iterator[tuple[str, np.ndarray]]:
    for _ in range(count):
        name = _string(fh)
        (rank,) = _read(fh, "<B")
        shape = _read(fh, f"<{rank}I") if rank else ()
        type_id, size = _read(fh, "<BI")
        dtype = DTYPES[type_id] if type_id < len(DTYPES) else None
        if dtype is None:
            raise FormatError(f"variable {name}: data type {type_id} not handled")
        data = fh.read(size)
        if len(data) != size or size != int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize:
            raise FormatError(f"variable {name}: payload does not match its shape")
        yield name, np.frombuffer(data, dtype).reshape(shape)


def quantize_rows(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weight, float32 scale per row) as CTranslate2's CPU kernel computes them (quantize_s8_row)."""
    rows = weight.astype(np.float32).reshape(weight.shape[0], -1)
    amax = np.abs(rows).max(axis=1)
    scale = np.where(amax != 0, np.float32(127) / np.where(amax != 0, amax, 1), 1).astype(np.float32)
    q = np.rint(rows * scale[:, None])  # nearbyint: half to even, as the runtime under the default rounding mode
    return q.astype(np.int8).reshape(weight.shape), scale


def _stored(name: str, value: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """What the int8 file holds for one variable of the float file."""
    if name.endswith("weight") and value.dtype in (np.float16, np.float32) and value.ndim >= 2 \
            and "conv" not in name:  # convolutions: see the module docstring
        q, scale = quantize_rows(value)
        return [(name, q), (name + "_scale", scale)]
    if value.dtype == np.float16 and value.ndim > 0:  # the runtime converts non-scalar floats to float32
        return [(name, value.astype(np.float32))]
    return [(name, value)]


def write_int8(source: Path, target: BinaryIO) -> None:
    """Rewrite the model file `source` (float16 or float32 weights) with int8 weights into `target`."""
    with source.open("rb") as fh:
        (version,) = _read(fh, "<I")
        if version < ROUNDING_VERSION:
            raise FormatError(f"binary version {version}: the runtime truncates there, not rewritten")
        spec = _string(fh)
        (revision, count) = _read(fh, "<II")
        out: list[tuple[str, np.ndarray]] = []
        for name, value in _variables(fh, count):
            if name.endswith("_scale"):
                raise FormatError(f"{name}: the file is already quantised")
            out.extend(_stored(name, value))
        (aliases,) = _read(fh, "<I")
        pairs = [(_string(fh), _string(fh)) for _ in range(aliases)]
        if fh.read(1):
            raise FormatError("trailing bytes after the aliases")
    target.write(struct.pack("<I", version))
    _write_string(target, spec)
    target.write(struct.pack("<II", revision, len(out)))
    for name, value in out:
        _write_string(target, name)
        target.write(struct.pack("<B", value.ndim) + struct.pack(f"<{value.ndim}I", *value.shape))
        type_id = next(i for i, d in enumerate(DTYPES) if d is not None and value.dtype == d)
        target.write(struct.pack("<BI", type_id, value.nbytes))
        target.write(np.ascontiguousarray(value).tobytes())
    target.write(struct.pack("<I", len(pairs)))
    for alias, name in pairs:
        _write_string(target, alias)
        _write_string(target, name)
