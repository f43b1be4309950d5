"""Local stand-ins for the DeepL API v2, OpenAI chat completions and a static file host, on 127.0.0.1 only.

Each server follows the documented wire format (DeepL: POST /v2/translate with
JSON {"text": [...], "target_lang", ...} -> {"translations": [{"detected_source_language",
"text", "billed_characters"}]}; OpenAI: POST /v1/chat/completions -> {"choices":
[{"message": {"content": ...}}]}) and plays a script of behaviours, one per
request: "ok", "429", "456", "500", "403", "timeout", "malformed", "wrong-count".
Servers stop by themselves after `lifetime` seconds even if a test forgets them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar


@dataclass
class Script:
    steps: list[str] = field(default_factory=list)
    default: str = "ok"
    delay: float = 2.0  # how long "timeout" stalls
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, record: dict) -> str:
        with self.lock:
            self.requests.append(record)
            return self.steps.pop(0) if self.steps else self.default


def fake_translate(text: str, target: str) -> str:
    """Deterministic, visibly transformed output so tests can tell which line went where."""
    return f"<{target}>{text[::-1]}"


class _Handler(BaseHTTPRequestHandler):
    script: Script
    kind: str

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json", headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        record = {"path": self.path, "headers": dict(self.headers), "body": body}
        step = self.script.next(record)
        if step == "timeout":
            time.sleep(self.script.delay)
            step = "ok"
        if step == "429":
            return self._json(429, {"message": "Too many requests"}) if self.kind == "deepl" else \
                self._send(429, b'{"error": {"message": "Rate limit reached"}}', headers={"Retry-After": "0"})
        if step == "456":
            return self._json(456, {"message": "Quota exceeded"})
        if step == "500":
            return self._json(500, {"message": "Internal error"})
        if step == "403":
            return self._json(403, {"message": "Wrong key"})
        if step == "malformed":
            return self._send(200, b'{"translations": [{"text": "half a reply')
        if self.kind == "deepl":
            return self._deepl(body, step)
        return self._openai(body, step)

    def _deepl(self, body: dict, step: str) -> None:
        if self.path != "/v2/translate":
            return self._json(404, {"message": "Not found"})
        if not self.headers.get("Authorization", "").startswith("DeepL-Auth-Key "):
            return self._json(403, {"message": "Missing key"})
        texts = body.get("text") or []
        target = body.get("target_lang", "")
        if not texts or not target:
            return self._json(400, {"message": "Parameter 'text' or 'target_lang' not specified."})
        out = [{"detected_source_language": body.get("source_lang") or "EN", "text": fake_translate(t, target),
                "billed_characters": len(t)} for t in texts]
        if step == "wrong-count":
            out = out[:-1]
        self._json(200, {"translations": out})

    def _openai(self, body: dict, step: str) -> None:
        if self.path != "/v1/chat/completions":
            return self._json(404, {"error": {"message": "Not found"}})
        try:
            payload = json.loads(next(m["content"] for m in body["messages"] if m["role"] == "user"))
            lines = payload["lines"]
            target = body["messages"][0]["content"].split(" to ")[1].split(".")[0]
        except (KeyError, ValueError, StopIteration, IndexError):
            return self._json(400, {"error": {"message": "bad request"}})
        items = [{"id": ln["id"], "text": fake_translate(ln["text"], target)} for ln in lines]
        if step == "wrong-count":
            items = items[:-1]
        content = json.dumps({"translations": items}, ensure_ascii=False)
        if step == "not-json":
            content = "Sure! Here are your translations: " + content[:20]
        self._json(200, {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}]})


@contextmanager
def _running(handler: type[BaseHTTPRequestHandler], lifetime: float) -> Iterator[str]:
    """Serve `handler` on a free port of 127.0.0.1 until the block ends (or `lifetime` runs out)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    watchdog = threading.Timer(lifetime, server.shutdown)
    watchdog.daemon = True
    watchdog.start()
    host, port = server.server_address[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        watchdog.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def serve(kind: str, steps: list[str] | None = None, default: str = "ok", delay: float = 2.0,
          lifetime: float = 60.0) -> Iterator[tuple[str, Script]]:
    """Run a fake `kind` ("deepl" or "openai") server; yields (base URL, script with recorded requests)."""
    script = Script(list(steps or []), default, delay)
    handler = type("Handler", (_Handler,), {"script": script, "kind": kind})
    with _running(handler, lifetime) as root:
        yield root + ("/v1" if kind == "openai" else "/"), script


class _FileHandler(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}  # set per server by serve_files
    asked: ClassVar[list[str]] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.asked.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_files(files: dict[str, bytes], lifetime: float = 60.0) -> Iterator[tuple[str, list[str]]]:
    """A static file server (plain HTTP GET, as GitHub raw): yields (base URL, the paths asked for)."""
    asked: list[str] = []
    handler = type("Handler", (_FileHandler,), {"files": files, "asked": asked})
    with _running(handler, lifetime) as root:
        yield root, asked
