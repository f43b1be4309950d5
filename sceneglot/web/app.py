"""The HTTP side of `sceneglot serve`: the REST job API, its event stream, the files, the static page.

Requests only read and write the store and the job folders; the work itself
happens in the worker pool (worker.py). The page in static/ uses this same API.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import secrets
import shutil
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..errors import BackendError, InputError
from . import faces
from .store import FINISHED, JobRow, Store
from .upload import UploadError, receive
from .worker import Pool

STATIC = Path(__file__).with_name("static")
SCENE_LIMIT = 64 << 20  # bytes of an edited scene.json
# What a job folder may serve, by suffix; stage caches, temporary files and the upload itself are never listed.
CONTENT_TYPES = {".mp4": "video/mp4", ".vtt": "text/vtt; charset=utf-8", ".srt": "application/x-subrip; charset=utf-8",
                 ".ass": "text/x-ssa; charset=utf-8", ".rttm": "text/plain; charset=utf-8",
                 ".json": "application/json"}
MEDIA_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".wav", ".flac",
                  ".mp3", ".m4a", ".aac", ".ogg", ".opus"}
TOKEN_COOKIE = "sceneglot_token"
FIELDS = {"to", "translator", "language", "speakers", "min_speakers", "max_speakers"}


@dataclass
class Config:
    root: Path  # DIR: jobs.sqlite and one folder per job
    workers: int = 1
    token: str | None = None
    max_upload: int = 2 << 30
    loopback: bool = True  # bound to a loopback address: Host headers are checked against DNS rebinding
    # Origins (scheme://host[:port]) a reverse proxy serves the page under while it rewrites Host: accepted too.
    origins: tuple[str, ...] = ()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Notifier:
    """Wakes the event streams of a job when a worker thread changed it (thread-safe `notify`)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.version: dict[str, int] = defaultdict(int)
        self._waiters: dict[str, set[asyncio.Future]] = defaultdict(set)

    def notify(self, job_id: str) -> None:
        if self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(self._bump, job_id)

    def _bump(self, job_id: str) -> None:
        self.version[job_id] += 1
        for fut in self._waiters.pop(job_id, ()):
            if not fut.done():
                fut.set_result(None)

    async def wait(self, job_id: str, seen: int, timeout: float) -> None:
        if self.version[job_id] != seen:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters[job_id].add(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self._waiters[job_id].discard(fut)


class Guard:
    """ASGI middleware: Host/Origin checks, the bearer token, and headers every response carries."""

    def __init__(self, app, config: Config) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        reason = None
        if self.config.loopback and self.config.token is None and not is_loopback(_hostname(host)):
            reason = (403, f"unexpected Host header {host!r}: this server answers only to a loopback name")
        elif ("origin" in headers and _netloc(headers["origin"]) != host.lower()
              and public_origin(headers["origin"]) not in self.config.origins):
            reason = (403, "cross-origin request refused")
        elif self.config.token and scope["path"].startswith("/api/") and scope["path"] != "/api/login":
            given = _bearer(headers.get("authorization", "")) or _cookie(headers.get("cookie", ""), TOKEN_COOKIE)
            if not (given and hmac.compare_digest(given.encode(), self.config.token.encode())):
                reason = (401, "missing or wrong token: send Authorization: Bearer TOKEN")

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff"),
                                      (b"referrer-policy", b"no-referrer")]
            await send(message)

        if reason:
            extra = {"WWW-Authenticate": "Bearer"} if reason[0] == 401 else {}
            response = JSONResponse({"detail": reason[1]}, status_code=reason[0], headers=extra)
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]")[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _netloc(origin: str) -> str:
    return origin.split("://", 1)[-1].rstrip("/").lower()


def public_origin(origin: str) -> str:
    """An Origin as compared with --public-origin: lower case, no trailing slash."""
    return origin.strip().rstrip("/").lower()


def _bearer(value: str) -> str | None:
    kind, _, token = value.partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_options(fields: dict[str, str]) -> dict[str, Any]:
    """The submitted form fields checked as job options (InputError naming the bad one)."""
    from argparse import Namespace

    from ..commands import options as cli_options
    from ..translate import plan
    from ..translate.base import BACKENDS, norm_lang

    to = norm_lang(fields.get("to", ""))
    if not to:
        raise InputError("field 'to' must be a target language code such as pt, es, en")
    translator = fields.get("translator") or None
    if translator and translator not in BACKENDS:
        raise InputError(f"unknown translator {translator!r}; known: {', '.join(BACKENDS)}")
    counts = {}
    for name, key in (("speakers", "num_speakers"), ("min_speakers", "min_speakers"),
                      ("max_speakers", "max_speakers")):
        value = fields.get(name) or None
        if value is not None and not value.isdigit():
            raise InputError(f"field '{name}' must be a whole number")
        counts[key] = int(value) if value else None
    speech = cli_options.speech_options(Namespace(language=fields.get("language") or "auto", **counts))
    try:  # as the translate command does: a target nothing reaches (directly or via English) fails now, not later
        to = plan(speech["language"], to, translator).target
    except BackendError as exc:
        raise InputError(str(exc)) from None
    return {"to": to, "translator": translator, **speech}


def _warm_checks(done: threading.Event) -> None:
    from .. import media  # noqa: F401

    job_options({"to": "en"})
    done.set()


def create_app(config: Config) -> FastAPI:
    root = config.root
    root.mkdir(parents=True, exist_ok=True)
    store = Store(root / "jobs.sqlite")
    notifier = Notifier()
    pool = Pool(store, root, config.workers, notifier.notify)
    warm = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        notifier.loop = asyncio.get_running_loop()
        store.requeue_interrupted()
        shutil.rmtree(root / ".uploads", ignore_errors=True)  # bodies of requests the last server never finished
        (root / ".uploads").mkdir(exist_ok=True)
        pool.start()
        # The checks a submission runs import PyAV and faster-whisper's language table (about a second):
        # paid here, beside start-up, not by the first upload.
        threading.Thread(target=_warm_checks, args=(warm,), name="sceneglot-warm", daemon=True).start()
        try:
            yield
        finally:
            pool.stop()

    app = FastAPI(title="sceneglot", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url="/api/openapi.json",
                  description="Submit a video, follow its progress, edit who said what, re-render, download.")
    app.state.store, app.state.pool, app.state.config = store, pool, config
    app.add_middleware(Guard, config=config)

    def folder(job: JobRow) -> Path:
        return root / job.id

    def deliverables(job: JobRow) -> dict[str, Path]:
        """The job's files the API serves, by name (a listing: a requested name is looked up, never joined)."""
        out = {}
        with contextlib.suppress(FileNotFoundError):
            for entry in sorted((root / job.id).iterdir()):
                name = entry.name
                if (name.startswith((".", "stage-")) or name == job.input or ".part" in name
                        or entry.suffix.lower() not in CONTENT_TYPES or entry.is_symlink() or not entry.is_file()):
                    continue
                out[name] = entry
        return out

    def view(job: JobRow) -> dict[str, Any]:
        files = deliverables(job) if job.status in FINISHED else {}
        return {"id": job.id, "status": job.status, "action": job.action, "stage": job.stage,
                "progress": round(job.progress, 4), "error": job.error, "created": _iso(job.created),
                "updated": _iso(job.updated), "seconds": job.seconds, "name": job.name, "options": job.options,
                "files": [{"name": n, "size": p.stat().st_size, "url": f"/api/jobs/{job.id}/files/{n}"}
                          for n, p in files.items()]}

    def get_job(job_id: str) -> JobRow:
        job = store.get(job_id) if len(job_id) == 16 and job_id.isalnum() else None
        if job is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    def job_response(job: JobRow, status: int) -> JSONResponse:
        return JSONResponse(view(job), status_code=status, headers={"Location": f"/api/jobs/{job.id}"})

    @app.exception_handler(UploadError)
    async def upload_error(_request, exc: UploadError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(InputError)
    async def input_error(_request, exc: InputError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    page = (STATIC / "index.html").read_bytes()  # small and fixed: served from memory, no file I/O per request

    @app.get("/", include_in_schema=False)
    async def index():
        return Response(page, media_type="text/html; charset=utf-8", headers={
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
                                       "frame-ancestors 'none'", "Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.post("/api/login", status_code=204, summary="Exchange the token for a cookie (used by the page)")
    async def login(request: Request):
        try:
            given = (await request.json())["token"]
        except (ValueError, KeyError, TypeError):
            raise HTTPException(422, 'send {"token": "..."}') from None
        if config.token and not (isinstance(given, str) and hmac.compare_digest(given.encode(), config.token.encode())):
            raise HTTPException(401, "wrong token")
        response = Response(status_code=204)
        if config.token:
            response.set_cookie(TOKEN_COOKIE, config.token, httponly=True, samesite="strict", path="/api/")
        return response

    @app.get("/api/health", summary="Liveness, readiness (checks and workers warmed), version and limits")
    async def health():
        from ..translate.base import BACKENDS

        return {"ok": True, "ready": warm.is_set() and pool.ready(), "version": __version__,
                "workers": config.workers, "max_upload": config.max_upload, "translators": list(BACKENDS)}

    @app.post("/api/jobs", status_code=202, summary="Submit a video (multipart): 202 and the new job",
              openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                  "type": "object", "required": ["file", "to"], "properties": {
                      "file": {"type": "string", "format": "binary"},
                      "to": {"type": "string", "description": "target language, e.g. pt"},
                      "translator": {"type": "string", "description": "backend name (GET /api/health lists them)"},
                      "language": {"type": "string", "description": "spoken language or 'auto'"},
                      "speakers": {"type": "integer"}, "min_speakers": {"type": "integer"},
                      "max_speakers": {"type": "integer"}}}}}},
                  "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                                  "schema": {"type": "string"}}]})
    async def submit(request: Request):
        from .. import media

        idem = request.headers.get("idempotency-key") or None
        if idem and len(idem) > 200:
            raise HTTPException(422, "Idempotency-Key longer than 200 characters")
        if idem and (existing := store.find_idempotent(idem)):
            return job_response(existing, 200)
        job_id = secrets.token_hex(8)
        upload = await receive(request, root / ".uploads" / job_id, config.max_upload, FIELDS)
        try:
            opts = await run_in_threadpool(job_options, upload.fields)
            try:
                info = await run_in_threadpool(media.probe, upload.path)
            except InputError as exc:
                raise UploadError(415, str(exc).replace(str(upload.path), upload.filename)) from None
            media.require(info, audio=True, video=True)
            suffix = Path(upload.filename).suffix.lower()
            input_name = "input" + (suffix if suffix in MEDIA_SUFFIXES else "")
            content_key = hashlib.sha256((upload.sha256 + json.dumps(opts, sort_keys=True)).encode()).hexdigest()
            (root / job_id).mkdir()
            upload.path.replace(root / job_id / input_name)
            job, created = store.add(job_id, name=upload.filename, input_name=input_name, options=opts,
                                     content_key=content_key, idempotency_key=idem)
        finally:
            upload.path.unlink(missing_ok=True)
        if not created:
            shutil.rmtree(root / job_id, ignore_errors=True)
            return job_response(job, 200)
        pool.wake()
        return job_response(job, 202)

    @app.get("/api/jobs", summary="Every job, newest first")
    async def list_jobs():
        return {"jobs": [view(j) for j in store.all()]}

    @app.get("/api/jobs/{job_id}", summary="One job: status, stage, progress (0..1), error, files")
    async def show(job_id: str):
        return view(get_job(job_id))

    @app.get("/api/jobs/{job_id}/events", summary="Server-Sent Events: progress, then the final status",
             response_class=StreamingResponse)
    async def events(job_id: str, request: Request):
        get_job(job_id)
        last = request.headers.get("last-event-id", "")
        after = int(last) if last.isdigit() else 0

        async def stream():
            nonlocal after
            sent_status = None
            while True:
                seen = notifier.version[job_id]
                while batch := store.events(job_id, after):
                    for event in batch:
                        after = event.seq
                        data = {"stage": event.stage, "done": event.done, "total": event.total,
                                "fraction": event.fraction(), "progress": event.progress, "message": event.message,
                                "time": _iso(event.time)}
                        yield f"id: {event.seq}\nevent: progress\ndata: {json.dumps(data)}\n\n"
                job = store.get(job_id)
                if job is None:
                    yield 'event: deleted\ndata: {}\n\n'
                    return
                if job.status != sent_status:
                    sent_status = job.status
                    yield f"event: status\ndata: {json.dumps(view(job))}\n\n"
                if job.status in FINISHED and not store.events(job_id, after, limit=1):
                    return
                await notifier.wait(job_id, seen, 15.0)
                if notifier.version[job_id] == seen:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def scene_path(job: JobRow) -> Path:
        path = folder(job) / "scene.json"
        if not path.is_file():
            raise HTTPException(409, "this job has no scene yet (it has not finished its analysis)")
        return path

    def etag(path: Path) -> str:
        return '"' + hashlib.sha256(path.read_bytes()).hexdigest()[:20] + '"'

    @app.get("/api/jobs/{job_id}/scene", summary="The job's scene.json (with an ETag for PUT's If-Match)")
    async def get_scene(job_id: str):
        path = scene_path(get_job(job_id))
        return Response(path.read_bytes(), media_type="application/json", headers={"ETag": etag(path)})

    @app.put("/api/jobs/{job_id}/scene", summary="Replace scene.json with an edited one: validated, 422 with the "
             "reason when invalid", openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"type": "object", "description": "a sceneglot.scene/1 document"}}}}})
    async def put_scene(job_id: str, request: Request):
        from .. import scene as scene_io

        job = get_job(job_id)
        if job.status in ("queued", "running"):
            raise HTTPException(409, f"the job is {job.status}: edit it once it has finished")
        path = scene_path(job)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise HTTPException(415, "send the scene as application/json")
        body = await _read_limited(request, SCENE_LIMIT)
        match = request.headers.get("if-match")
        if match and match != etag(path):
            raise HTTPException(412, "the scene changed since you loaded it (If-Match does not match)")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HTTPException(422, f"not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != scene_io.SCHEMA:
            raise HTTPException(422, f"expected a {scene_io.SCHEMA} document")
        scene = scene_io.Scene.from_dict(data)  # InputError (shape or meaning) -> 422 with the reason
        stored = json.loads(path.read_text(encoding="utf-8"))
        if data.get("media") != stored.get("media"):
            raise HTTPException(422, "scene.json invalid at media: the media of a job cannot be changed")
        await run_in_threadpool(scene_io.save, scene, path)
        return Response(status_code=204, headers={"ETag": etag(path)})

    @app.post("/api/jobs/{job_id}/render", status_code=202, summary="Re-render from the stored scene (no analysis, "
              "no translation)")
    async def render(job_id: str):
        job = get_job(job_id)
        scene_path(job)
        queued = store.queue(job.id, "render")
        if queued is None:
            raise HTTPException(409, f"the job is {job.status}: render it once it has finished")
        pool.wake()
        notifier.notify(job.id)
        return job_response(queued, 202)

    @app.post("/api/jobs/{job_id}/cancel", summary="Stop a queued or running job (it stays listed as cancelled)")
    async def cancel(job_id: str):
        job = await _stop(get_job(job_id))
        return view(job) if job else JSONResponse({"detail": "deleted"}, status_code=404)

    async def _stop(job: JobRow) -> JobRow | None:
        deadline = time.monotonic() + 15
        while (current := store.get(job.id)) and current.status in ("queued", "running"):
            if not store.cancel_queued(job.id):
                pool.cancel(job.id)
            if time.monotonic() > deadline:
                raise HTTPException(409, "the job did not stop in time; try again")
            await asyncio.sleep(0.05)
        notifier.notify(job.id)
        return current

    @app.delete("/api/jobs/{job_id}", status_code=204, summary="Cancel if running, then delete the job and its folder")
    async def delete(job_id: str):
        job = get_job(job_id)
        await _stop(job)
        store.delete(job.id)
        await run_in_threadpool(shutil.rmtree, folder(job), True)
        faces.forget(job.id)
        notifier.notify(job.id)
        return Response(status_code=204)

    @app.get("/api/jobs/{job_id}/files/{name}", summary="A file of the job (the video with HTTP Range)")
    async def file(job_id: str, name: str):
        job = get_job(job_id)
        path = deliverables(job).get(name)
        if path is None or job.status in ("queued", "running"):
            raise HTTPException(404, f"job {job.id} has no file {name!r}")
        return FileResponse(path, media_type=CONTENT_TYPES[path.suffix.lower()], headers={"Cache-Control": "no-cache"})

    @app.get("/api/jobs/{job_id}/persons/{person}/face", summary="A small JPEG of a person's face, from the video",
             response_class=Response)
    async def face(job_id: str, person: str):
        job = get_job(job_id)
        data = await run_in_threadpool(faces.crop, job.id, folder(job) / job.input, scene_path(job), person)
        if data is None:
            raise HTTPException(404, f"no face for person {person!r}")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})

    return app


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    return bytes(body)
