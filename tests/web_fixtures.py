"""A real `sceneglot serve` on 127.0.0.1 and one real cut2 job, shared by the web tests (API and browser).

The server is the CLI itself in a subprocess (the same process model a user
gets: worker processes, SQLite store, uvicorn); the job is the real pipeline
with the real models on ../shared/eval/scenes/cut2.mp4.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"
CUT2 = SHARED / "scenes" / "cut2.mp4"
LIPS = SHARED / "lips" / "bbaf2n.mpg"
MAX_UPLOAD = 8 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    jobs: Path
    token: str | None = None
    log: Path | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        return requests.get(self.url + path, headers={**self.headers(), **kw.pop("headers", {})}, **kw)

    def submit(self, path: Path, headers: dict | None = None, **fields) -> requests.Response:
        with path.open("rb") as fh:
            return requests.post(self.url + "/api/jobs", files={"file": (path.name, fh, "video/mp4")},
                                 data=fields, headers={**self.headers(), **(headers or {})}, timeout=60)

    def events(self, job_id: str, timeout: float = 600) -> list[tuple[str, dict]]:
        """Read the job's event stream until the server ends it: [(event name, data)]."""
        out, name = [], None
        with requests.get(f"{self.url}/api/jobs/{job_id}/events", headers=self.headers(), stream=True,
                          timeout=timeout) as r:
            r.raise_for_status()
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    out.append((name, json.loads(line[6:])))
        return out

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: this checkout, quiet, the shared models; no DeepL key (a test relies on it) and
    no SCENEGLOT_TOKEN from the caller's shell (each test says whether its server wants one); then `extra`."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("DEEPL_AUTH_KEY", "DEEPL_SERVER_URL", "SCENEGLOT_TOKEN")}
    return {**base, "PYTHONPATH": str(ROOT), "SCENEGLOT_QUIET": "1",
            "SCENEGLOT_MODEL_PATH": os.environ.get("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models")),
            **(extra or {})}


def start_server(jobs: Path, *args: str, token: str | None = None, host: str = "127.0.0.1",
                 extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    log = jobs.with_name(jobs.name + ".log")
    cmd = [sys.executable, "-m", "sceneglot", "serve", "--host", host, "--port", str(port), "--jobs", str(jobs), *args]
    if token:
        cmd += ["--token", token]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env(extra_env), stdout=out, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}", jobs, token, log)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited {proc.returncode}: {log.read_text()}")
            try:
                if server.get("/api/health", timeout=2).status_code == 200:
                    return server
            except requests.RequestException:  # the socket listens before the app answers
                time.sleep(0.2)
        raise AssertionError(f"server did not answer in 60 s: {log.read_text()}")
    except BaseException:
        server.stop(signal.SIGKILL)  # never leave a server behind
        raise


@dataclass
class Cut2Job:
    id: str
    submitted: float  # time.monotonic() when the 202 came back
    first_event: float  # ... and when the first progress event arrived
    done: float
    events: list[tuple[str, dict]] = field(default_factory=list)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("web") / "jobs", "--max-upload", str(MAX_UPLOAD))
    yield srv
    assert srv.stop() == 0, srv.log.read_text()


@pytest.fixture(scope="session")
def cut2_job(server) -> Cut2Job:
    """cut2 translated to pt through the API, followed on the event stream until it is done."""
    r = server.submit(CUT2, to="pt")
    assert r.status_code == 202, r.text
    submitted = time.monotonic()
    job_id = r.json()["id"]
    out, name, first = [], None, None
    with requests.get(f"{server.url}/api/jobs/{job_id}/events", stream=True, timeout=900) as stream:
        for line in stream.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                if name == "progress" and first is None:
                    first = time.monotonic()
                out.append((name, json.loads(line[6:])))
    final = out[-1]
    assert final[0] == "status" and final[1]["status"] == "done", (final, server.log.read_text()[-3000:])
    return Cut2Job(job_id, submitted, first, time.monotonic(), out)
