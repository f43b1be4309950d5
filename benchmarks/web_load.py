"""`sceneglot serve` targets on loopback, with the real pipeline on ../shared/eval clips.

1. upload -> first progress event, for cut2 (a fresh server, its worker warmed as at any start);
2. API overhead: (202 -> final status) against the pipeline's own time in the worker (`seconds`);
3. re-render after an edit (a name and a translation) against the first job, wall and pipeline time;
4. 20 clients for --seconds (default 60) while two jobs run (--workers 2): ten poll the job list, a job
   and the page, ten follow event streams; every answer must be 2xx, every stream must end with a
   status, both jobs must stay listed and finish. Latency percentiles show whether the page stays
   responsive while two jobs run.

    python benchmarks/web_load.py [--seconds 60] [--clients 20]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
CUT2, LIPS = EVAL / "scenes" / "cut2.mp4", EVAL / "lips" / "bbaf2n.mpg"


def start(jobs: Path, workers: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SCENEGLOT_QUIET": "1",
           "SCENEGLOT_MODEL_PATH": os.environ.get("SCENEGLOT_MODEL_PATH", str(ROOT.parent / "shared" / "models"))}
    proc = subprocess.Popen([sys.executable, "-m", "sceneglot", "serve", "--port", str(port), "--jobs", str(jobs),
                             "--workers", str(workers)], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1500):
        try:
            if requests.get(url + "/api/health", timeout=5).json()["ready"]:  # checks and workers warmed
                return proc, url
        except requests.RequestException:  # the socket listens before the app answers
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not get ready in 5 minutes")


def submit(url: str, path: Path, **fields) -> tuple[str, float, float]:
    """(job id, monotonic time before the POST, ... and when its 202 came back)."""
    before = time.monotonic()
    with path.open("rb") as fh:
        r = requests.post(url + "/api/jobs", files={"file": (path.name, fh)}, data=fields, timeout=60)
    r.raise_for_status()
    return r.json()["id"], before, time.monotonic()


def follow(url: str, job_id: str) -> tuple[float | None, dict]:
    """(monotonic time of the first progress event, final job) from the event stream."""
    first, name, last = None, None, {}
    with requests.get(f"{url}/api/jobs/{job_id}/events", stream=True, timeout=900) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                if name == "progress" and first is None:
                    first = time.monotonic()
                if name == "status":
                    last = json.loads(line[6:])
    return first, last


def single() -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(Path(tmp) / "jobs", 1)
        try:
            job_id, before, t0 = submit(url, CUT2, to="pt")
            first, job = follow(url, job_id)
            wall = time.monotonic() - before
            assert job["status"] == "done", job
            repeats = []
            for _ in range(5):  # the same upload again: the same checks, answered with the existing job
                _, b, a = submit(url, CUT2, to="pt")
                repeats.append(a - b)
            rows.append(("POST /api/jobs: upload (1.3 MB) + media check + 202", f"{t0 - before:.2f} s"))
            rows.append(("... the same POST again, answered with the job (median of 5)",
                         f"{statistics.median(repeats):.2f} s"))
            rows.append(("202 -> first progress event (cut2)", f"{first - t0:.2f} s"))
            rows.append(("job wall time (POST -> done) / pipeline time in the worker",
                         f"{wall:.1f} s / {job['seconds']:.1f} s"))
            rows.append(("API overhead on the job", f"{100 * (wall - job['seconds']) / job['seconds']:.2f} %"))
            scene = requests.get(f"{url}/api/jobs/{job_id}/scene", timeout=30).json()
            scene["speakers"][0]["name"] = "Benchmark Name"
            seg = next(s for s in scene["segments"] if s.get("translation"))
            seg["translation"] = "Texto editado para o benchmark"
            requests.put(f"{url}/api/jobs/{job_id}/scene", json=scene, timeout=30).raise_for_status()
            t1 = time.monotonic()
            requests.post(f"{url}/api/jobs/{job_id}/render", timeout=30).raise_for_status()
            _, again = follow(url, job_id)
            rewall = time.monotonic() - t1
            assert again["status"] == "done", again
            rows.append(("re-render wall / first job wall", f"{rewall:.1f} / {wall:.1f} s = {rewall / wall:.0%}"))
            rows.append(("re-render pipeline / first job pipeline",
                         f"{again['seconds']:.1f} / {job['seconds']:.1f} s = {again['seconds'] / job['seconds']:.0%}"))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    return rows


def load(seconds: int, clients: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start(Path(tmp) / "jobs", 2)
        try:
            ids = [submit(url, CUT2, to="pt")[0], submit(url, LIPS, to="pt", language="en")[0]]
            assert len(set(ids)) == 2
            stop = time.monotonic() + seconds
            latencies: dict[str, list[float]] = {"GET /api/jobs": [], "GET /api/jobs/ID": [], "GET /": []}
            errors: list[str] = []
            streams = [0]
            lock = threading.Lock()

            def poller(i: int) -> None:
                s = requests.Session()
                while time.monotonic() < stop:
                    for name, path in (("GET /api/jobs", "/api/jobs"), ("GET /api/jobs/ID", f"/api/jobs/{ids[i % 2]}"),
                                       ("GET /", "/")):
                        t = time.perf_counter()
                        try:
                            r = s.get(url + path, timeout=30)
                            ok = r.status_code == 200
                            if ok and name == "GET /api/jobs":
                                listed = {j["id"] for j in r.json()["jobs"]}
                                ok = set(ids) <= listed
                        except requests.RequestException as exc:
                            ok, r = False, exc
                        with lock:
                            latencies[name].append(time.perf_counter() - t)
                            if not ok:
                                errors.append(f"{name}: {r}")
                    time.sleep(0.25)

            def streamer(i: int) -> None:
                while time.monotonic() < stop:
                    try:
                        with requests.get(f"{url}/api/jobs/{ids[i % 2]}/events", stream=True,
                                          timeout=(10, 30)) as r:
                            status = None
                            name = None
                            for line in r.iter_lines(decode_unicode=True):
                                if line.startswith("event: "):
                                    name = line[7:]
                                elif line.startswith("data: ") and name == "status":
                                    status = json.loads(line[6:])["status"]
                                if time.monotonic() > stop:
                                    break
                            else:
                                if status not in ("done", "failed", "cancelled"):
                                    raise RuntimeError(f"stream ended without a final status ({status})")
                        with lock:
                            streams[0] += 1
                    except Exception as exc:
                        with lock:
                            errors.append(f"events: {exc}")
                    time.sleep(0.5)

            threads = [threading.Thread(target=poller if i % 2 == 0 else streamer, args=(i // 2,))
                       for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            finals = [follow(url, job_id)[1] for job_id in ids]
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    rows = [(f"{clients} clients for {seconds} s: errors", str(len(errors)) + (f" ({errors[:3]})" if errors else "")),
            ("jobs lost (listed and finished done)", str(sum(f.get("status") != "done" for f in finals))),
            ("event streams completed", str(streams[0]))]
    for name, values in latencies.items():
        values.sort()
        rows.append((f"{name} latency p50 / p95 / max ({len(values)} requests, two jobs running)",
                     f"{statistics.median(values) * 1000:.0f} / {values[int(0.95 * len(values))] * 1000:.0f} / "
                     f"{values[-1] * 1000:.0f} ms"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--clients", type=int, default=20)
    args = ap.parse_args()
    width = 88
    print(f"{'measure':<{width}} | value")
    print(f"{'-' * width}-|------")
    for part in (single, lambda: load(args.seconds, args.clients)):
        for name, value in part():
            print(f"{name:<{width}} | {value}", flush=True)


if __name__ == "__main__":
    main()
