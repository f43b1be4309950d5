"""A multipart/form-data upload streamed straight to disk, with a size limit and a content hash.

The file part goes to a server-chosen path chunk by chunk as the body arrives
(never to memory or a spool file elsewhere); the body is refused with 413 as
soon as it passes the limit, and the partial file is removed. The client's file
name is kept only as a label.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

FIELD_LIMIT = 4096  # bytes per text field
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UploadError(Exception):
    """A request the client must fix: `status` is the HTTP code, the message the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class Upload:
    path: Path
    filename: str
    size: int
    sha256: str
    fields: dict[str, str] = field(default_factory=dict)


def label(filename: str) -> str:
    """The client's file name as a display label: last path part, no control characters, bounded."""
    name = re.split(r"[\\/]", filename)[-1]
    return _CONTROL.sub("", name).strip()[:200] or "upload"


async def receive(request: Request, dest: Path, max_bytes: int, fields: set[str], file_field: str = "file") -> Upload:
    """Stream the request's multipart body: the `file_field` part into `dest`, the named text fields into a dict."""
    kind, params = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, "expected a multipart/form-data body with a 'file' part")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + len(fields) * FIELD_LIMIT + 65536:
        raise UploadError(413, f"upload larger than the limit of {max_bytes} bytes")

    state: dict = {"headers": {}, "header": b"", "value": b"", "target": None}
    texts: dict[str, bytearray] = {}
    digest = hashlib.sha256()
    out = {"fh": None, "size": 0, "filename": None}

    def on_part_begin() -> None:
        state.update(headers={}, header=b"", value=b"", target=None)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["header"].decode("latin-1").lower()] = state["value"]
        state["header"] = state["value"] = b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state["headers"].get("content-disposition", b""))
        name = disp.get(b"name", b"").decode("utf-8", "replace")
        if name == file_field and b"filename" in disp:
            if out["fh"] is not None:
                raise UploadError(422, f"more than one '{file_field}' part")
            out["filename"] = label(disp[b"filename"].decode("utf-8", "replace"))
            out["fh"] = dest.open("wb")
            state["target"] = "file"
        elif name in fields:
            if name in texts:
                raise UploadError(422, f"field '{name}' given twice")
            texts[name] = bytearray()
            state["target"] = name
        else:
            raise UploadError(422, f"unknown form field {name!r} (known: {file_field}, {', '.join(sorted(fields))})")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if state["target"] == "file":
            out["size"] += len(chunk)
            if out["size"] > max_bytes:
                raise UploadError(413, f"upload larger than the limit of {max_bytes} bytes")
            digest.update(chunk)
            out["fh"].write(chunk)
        else:
            buf = texts[state["target"]]
            buf += chunk
            if len(buf) > FIELD_LIMIT:
                raise UploadError(413, f"field '{state['target']}' longer than {FIELD_LIMIT} bytes")

    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
    })
    ok = False
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if out["fh"] is None:
            raise UploadError(422, f"no file part named '{file_field}'")
        out["fh"].close()
        if out["size"] == 0:
            raise UploadError(422, "the uploaded file is empty")
        try:
            values = {k: v.decode("utf-8").strip() for k, v in texts.items()}
        except UnicodeDecodeError:
            raise UploadError(422, "form fields must be UTF-8 text") from None
        ok = True
        return Upload(dest, out["filename"], out["size"], digest.hexdigest(), values)
    except MultipartParseError as exc:
        raise UploadError(400, f"malformed multipart body ({exc})") from None
    except ClientDisconnect:
        raise UploadError(400, "the client stopped sending the upload") from None
    finally:
        if out["fh"] is not None:
            out["fh"].close()
        if not ok:
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()
