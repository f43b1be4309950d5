"""The job API against a real `sceneglot serve` on 127.0.0.1, with the real pipeline on shared clips."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time

import pytest
import requests
from web_fixtures import CUT2, LIPS, MAX_UPLOAD, SHARED, env, free_port, start_server

from sceneglot import media
from sceneglot import scene as scene_io

pytestmark = pytest.mark.slow


def files_of(server, job_id: str) -> dict[str, dict]:
    return {f["name"]: f for f in server.get(f"/api/jobs/{job_id}").json()["files"]}


def test_submit_streams_progress_until_done(server, cut2_job):
    progress = [data for name, data in cut2_job.events if name == "progress"]
    statuses = [data["status"] for name, data in cut2_job.events if name == "status"]
    assert statuses[-1] == "done" and set(statuses) <= {"queued", "running", "done"}
    stages = list(dict.fromkeys(p["stage"] for p in progress))
    assert len(stages) >= 3, stages  # analysis, translation and render each report
    for p in progress:
        assert p["fraction"] is None or 0 <= p["fraction"] <= 1
    job = server.get(f"/api/jobs/{cut2_job.id}").json()
    assert job["status"] == "done" and job["progress"] == 1 and job["error"] is None
    assert job["name"] == "cut2.mp4" and job["options"]["to"] == "pt"
    names = set(files_of(server, cut2_job.id))
    assert "scene.json" in names and "input.mp4" not in names
    for suffix in (".mp4", ".pt.vtt", ".pt.srt", ".ass"):
        assert any(n.endswith(suffix) for n in names), (suffix, names)
    assert {"output.mp4", "output.pt.srt", "output.en.srt", "output.pt.vtt", "output.en.vtt"} <= names, names
    assert not any(n.startswith("stage-") for n in names)
    assert cut2_job.id in [j["id"] for j in server.get("/api/jobs").json()["jobs"]]


def test_files_video_range_and_subtitles(server, cut2_job, tmp_path):
    files = files_of(server, cut2_job.id)
    video = next(f for n, f in files.items() if n.endswith(".mp4"))
    whole = server.get(video["url"])
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes" and len(whole.content) == video["size"]
    part = server.get(video["url"], headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == whole.content[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{video['size']}"
    assert server.get(video["url"], headers={"Range": f"bytes={video['size'] + 10}-"}).status_code == 416
    out = tmp_path / "out.mp4"
    out.write_bytes(whole.content)
    info, src = media.probe(out), media.probe(CUT2)
    assert info.has_audio and abs(info.duration - src.duration) < 0.2 and (info.width, info.height) == (1280, 720)
    scene = scene_io.Scene.from_dict(server.get(f"/api/jobs/{cut2_job.id}/scene").json())
    vtt = server.get(next(f["url"] for n, f in files.items() if n.endswith(".pt.vtt"))).text
    assert vtt.startswith("WEBVTT")
    spoken = [s for s in scene.segments if s.translation]
    assert spoken and all(" ".join(s.translation.split())[:20] in vtt.replace("\n", " ") for s in spoken)
    assert server.get(f"/api/jobs/{cut2_job.id}/files/nope.vtt").status_code == 404


def test_scene_edit_refused_when_invalid(server, cut2_job):
    url = f"{server.url}/api/jobs/{cut2_job.id}/scene"
    got = server.get(f"/api/jobs/{cut2_job.id}/scene")
    before, tag = got.content, got.headers["etag"]
    bad = json.loads(before)
    bad["segments"][0]["speaker"] = "S99"
    r = requests.put(url, json=bad, timeout=30)
    assert r.status_code == 422 and "unknown speaker S99" in r.json()["detail"]
    bad = json.loads(before)
    bad["segments"][0]["end"] = "soon"
    r = requests.put(url, json=bad, timeout=30)
    assert r.status_code == 422 and "segments/0/end" in r.json()["detail"]
    moved = json.loads(before)
    moved["media"]["path"] = "/etc/passwd"
    r = requests.put(url, json=moved, timeout=30)
    assert r.status_code == 422 and "media" in r.json()["detail"]
    assert requests.put(url, data=b"{not json", headers={"Content-Type": "application/json"},
                        timeout=30).status_code == 422
    assert requests.put(url, data=before, headers={"Content-Type": "text/plain"}, timeout=30).status_code == 415
    stale = requests.put(url, data=before, headers={"Content-Type": "application/json", "If-Match": '"stale"'},
                         timeout=30)
    assert stale.status_code == 412
    after = server.get(f"/api/jobs/{cut2_job.id}/scene")
    assert after.content == before and after.headers["etag"] == tag  # the stored scene is untouched


def test_edit_then_rerender_only_renders(server, cut2_job):
    job_dir = server.jobs / cut2_job.id
    caches = {p.name: p.stat().st_mtime_ns for p in job_dir.glob("stage-*.json")}
    assert caches
    data = server.get(f"/api/jobs/{cut2_job.id}/scene").json()
    data["speakers"][0]["name"] = "Marta Lima"
    first = next(s for s in data["segments"] if s["translation"])
    first["translation"] = "Uma frase corrigida à mão"
    r = requests.put(f"{server.url}/api/jobs/{cut2_job.id}/scene", json=data, timeout=30)
    assert r.status_code == 204, r.text
    stored = scene_io.load(job_dir / "scene.json")
    assert stored.speakers[0].name == "Marta Lima"
    video = next(n for n in files_of(server, cut2_job.id) if n.endswith(".mp4"))
    old_video = (job_dir / video).stat().st_mtime_ns
    r = requests.post(f"{server.url}/api/jobs/{cut2_job.id}/render", timeout=30)
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.headers["location"].endswith(cut2_job.id)
    # the job is busy now: a second render or an edit is refused, not queued twice
    assert requests.post(f"{server.url}/api/jobs/{cut2_job.id}/render", timeout=30).status_code == 409
    events = server.events(cut2_job.id)
    assert events[-1][1]["status"] == "done", events[-1]
    stages = {d["stage"] for name, d in events if name == "progress"}
    analysis = {"audio", "asr", "diarization", "speech", "faces", "asd", "assign", "analysis", "translate"}
    assert "render" in stages and not stages & analysis, stages
    assert {p.name: p.stat().st_mtime_ns for p in job_dir.glob("stage-*.json")} == caches
    assert (job_dir / video).stat().st_mtime_ns != old_video
    vtt_name = next(n for n in files_of(server, cut2_job.id) if n.endswith(".pt.vtt"))
    vtt = server.get(f"/api/jobs/{cut2_job.id}/files/{vtt_name}").text
    assert "Uma frase corrigida à mão" in vtt and "<v Marta Lima>" in vtt
    assert scene_io.load(job_dir / "scene.json").speakers[0].name == "Marta Lima"


def test_resubmit_is_idempotent_and_delete_cancels(server, cut2_job):
    again = server.submit(CUT2, to="pt")
    assert again.status_code == 200 and again.json()["id"] == cut2_job.id
    keyed = server.submit(CUT2, to="es", headers={"Idempotency-Key": "test-key-1"})
    assert keyed.status_code == 202, keyed.text
    other = keyed.json()["id"]
    assert other != cut2_job.id
    repeat = server.submit(CUT2, to="de", headers={"Idempotency-Key": "test-key-1"})
    assert repeat.status_code == 200 and repeat.json()["id"] == other
    deadline = time.monotonic() + 120  # let it start, so the delete has a running job to stop
    while server.get(f"/api/jobs/{other}").json()["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.2)
    r = requests.delete(f"{server.url}/api/jobs/{other}", timeout=60)
    assert r.status_code == 204
    assert server.get(f"/api/jobs/{other}").status_code == 404
    assert not (server.jobs / other).exists()
    assert other not in [j["id"] for j in server.get("/api/jobs").json()["jobs"]]


def test_cancel_keeps_the_job_and_no_partial_output(server):
    r = server.submit(LIPS, to="pt", language="en")
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 180
    while server.get(f"/api/jobs/{job_id}").json()["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    r = requests.post(f"{server.url}/api/jobs/{job_id}/cancel", timeout=60)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    leftovers = [p.name for p in (server.jobs / job_id).iterdir() if p.suffix in (".mp4", ".vtt", ".srt")
                 and p.name != "input.mpg"]
    assert leftovers == []
    assert r.json()["files"] == [] or all(f["name"].endswith(".json") for f in r.json()["files"])


def test_restart_runs_interrupted_jobs_again(tmp_path):
    jobs = tmp_path / "jobs"
    first = start_server(jobs)
    r = first.submit(LIPS, to="pt", language="en")
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    first.stop(signal.SIGKILL)  # a crash: no shutdown code runs
    with pytest.raises(requests.ConnectionError):
        requests.get(first.url + "/api/health", timeout=2)
    second = start_server(jobs)
    try:
        assert second.get(f"/api/jobs/{job_id}").json()["status"] in ("queued", "running")
        events = second.events(job_id, timeout=600)
        assert events[-1][1]["status"] == "done", (events[-1], second.log.read_text()[-2000:])
        assert any(n.endswith(".mp4") for n in files_of(second, job_id))
    finally:
        second.stop()


def test_token_required_off_loopback(tmp_path):
    port = free_port()
    refused = subprocess.run([sys.executable, "-m", "sceneglot", "serve", "--host", "0.0.0.0", "--port", str(port),
                              "--jobs", str(tmp_path / "a")], env=env(), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--token" in refused.stderr and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    token = "correct-horse-battery"
    srv = start_server(tmp_path / "b", token=token, host="0.0.0.0")
    try:
        assert requests.get(srv.url + "/api/jobs", timeout=10).status_code == 401
        wrong = requests.get(srv.url + "/api/jobs", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert srv.get("/api/jobs").status_code == 200
        assert requests.get(srv.url + "/api/openapi.json", timeout=10).status_code == 401
        assert requests.get(srv.url + "/", timeout=10).status_code == 200  # the page itself holds no data
        session = requests.Session()
        assert session.post(srv.url + "/api/login", json={"token": "nope"}, timeout=10).status_code == 401
        assert session.post(srv.url + "/api/login", json={"token": token}, timeout=10).status_code == 204
        assert session.get(srv.url + "/api/jobs", timeout=10).status_code == 200  # the page's cookie
    finally:
        srv.stop()


def test_paths_outside_the_job_are_never_served(server, cut2_job):
    base = f"/api/jobs/{cut2_job.id}/files/"
    for name in ("..%2Fjobs.sqlite", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "input.mp4", "stage-asr.json",
                 "%2e%2e", "%2e%2e%2fjobs.sqlite", "scene.json%00.mp4"):
        r = requests.get(server.url + base + name, timeout=10)
        assert r.status_code == 404, (name, r.status_code)
    for path in ("/api/jobs/..%2F..%2Fetc/files/passwd", "/api/jobs/../jobs.sqlite", "/static/..%2Fapp.py",
                 "/static/../../jobs.sqlite"):
        r = requests.get(server.url + path, timeout=10)
        assert r.status_code == 404, (path, r.status_code)
    assert server.get(base + "scene.json").status_code == 200


def test_bad_uploads_get_4xx_with_a_reason(server, tmp_path):
    url = server.url + "/api/jobs"
    big = tmp_path / "big.mp4"
    big.write_bytes(CUT2.read_bytes() * (MAX_UPLOAD // CUT2.stat().st_size + 1))

    def chunks():  # no Content-Length: the limit must hold while streaming
        with big.open("rb") as fh:
            head = b'--B\r\nContent-Disposition: form-data; name="to"\r\n\r\npt\r\n--B\r\nContent-Disposition: ' \
                   b'form-data; name="file"; filename="big.mp4"\r\n\r\n'
            yield head
            while block := fh.read(1 << 16):
                yield block
            yield b"\r\n--B--\r\n"

    r = requests.post(url, data=chunks(), headers={"Content-Type": "multipart/form-data; boundary=B"}, timeout=60)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    conn = http.client.HTTPConnection(server.url.removeprefix("http://"), timeout=30)
    conn.putrequest("POST", "/api/jobs")  # a declared size over the limit is refused before any body is read
    conn.putheader("Content-Type", "multipart/form-data; boundary=B")
    conn.putheader("Content-Length", str(MAX_UPLOAD * 2))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 100)
    r = server.submit(text, to="pt")
    assert r.status_code == 415 and "notes.mp4" in r.json()["detail"] and str(tmp_path) not in r.json()["detail"]
    r = server.submit(SHARED / "speech" / "jfk.flac", to="pt")
    assert r.status_code == 422 and "video" in r.json()["detail"]
    assert requests.post(url, json={"to": "pt"}, timeout=30).status_code == 415
    assert server.submit(CUT2).status_code == 422  # no target language
    assert server.submit(CUT2, to="pt", translator="babelfish").status_code == 422
    assert server.submit(CUT2, to="pt", speakers="0").status_code == 422
    assert server.submit(CUT2, to="pt", colour="red").status_code == 422
    assert server.submit(CUT2, to="pt", language="klingon").status_code == 422
    assert list((server.jobs / ".uploads").iterdir()) == []  # nothing half-uploaded stays behind


def test_foreign_host_and_origin_refused(server):
    r = requests.get(server.url + "/api/jobs", headers={"Host": "attacker.example:80"}, timeout=10)
    assert r.status_code == 403  # DNS rebinding: a page on another name reaching the loopback server
    r = requests.post(server.url + "/api/jobs", headers={"Origin": "http://attacker.example"},
                      data=b"", timeout=10)
    assert r.status_code == 403
    assert server.get("/api/jobs/0123456789abcdef").status_code == 404
    assert server.get("/api/openapi.json").json()["paths"]["/api/jobs/{job_id}/events"]


def test_public_origin_behind_a_host_rewriting_proxy(tmp_path):
    """A proxy serving the page as https://subs.example.org and rewriting Host to the loopback address:
    the page's own requests pass (--public-origin), another site's are still refused."""
    server = start_server(tmp_path / "jobs", "--public-origin", "https://Subs.example.org/")
    try:
        ok = requests.post(server.url + "/api/jobs", headers={"Origin": "https://subs.example.org"}, data=b"",
                           timeout=10)
        assert ok.status_code not in (403, 500) and ok.status_code >= 400  # past the guard: an empty upload
        other = requests.post(server.url + "/api/jobs", headers={"Origin": "https://attacker.example"}, data=b"",
                              timeout=10)
        assert other.status_code == 403
    finally:
        server.stop()


def test_event_stream_resumes_after_last_event_id(server, cut2_job):
    def ids(headers=None) -> list[int]:
        out = []
        with requests.get(f"{server.url}/api/jobs/{cut2_job.id}/events", headers=headers or {}, stream=True,
                          timeout=60) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            out = [int(line[4:]) for line in r.iter_lines(decode_unicode=True) if line.startswith("id: ")]
        return out

    every = ids()
    assert len(every) >= 3 and every == sorted(every)
    assert ids({"Last-Event-ID": str(every[1])}) == every[2:]


def test_unreachable_target_refused_before_the_analysis(server):
    """The submission plans the route as `sceneglot translate` does: 422 with the planner's one-line reason."""
    for fields, reason in (({"to": "fi"}, "no available translator for ?->fi"),
                           ({"to": "xx"}, "not a language code"),
                           ({"to": "pt", "language": "en", "translator": "deepl"}, "DEEPL_AUTH_KEY")):
        r = server.submit(LIPS, **fields)
        assert r.status_code == 422 and reason in r.json()["detail"], (fields, r.text)
        assert "\n" not in r.json()["detail"] and "Traceback" not in r.json()["detail"]
    r = server.submit(LIPS, to="pt", language="de")  # reachable only through English: accepted
    assert r.status_code == 202, r.text
    assert requests.delete(f"{server.url}/api/jobs/{r.json()['id']}", timeout=60).status_code == 204  # not run


def test_failed_job_shows_its_one_line_reason(tmp_path):
    """A job that fails while running (DeepL refuses mid-job with HTTP 456) ends `failed` with the backend's line."""
    from fake_servers import serve

    with serve("deepl", default="456", lifetime=600) as (url, script):
        srv = start_server(tmp_path / "jobs", extra_env={"DEEPL_AUTH_KEY": "test-key", "DEEPL_SERVER_URL": url})
        try:
            r = srv.submit(LIPS, to="de", language="en", translator="deepl")
            assert r.status_code == 202, r.text
            events = srv.events(r.json()["id"])
            job = srv.get(f"/api/jobs/{r.json()['id']}").json()
        finally:
            srv.stop()
    assert events[-1][1]["status"] == "failed" and job["status"] == "failed", (events[-1], job)
    assert "quota" in job["error"] and "456" in job["error"], job["error"]
    assert "\n" not in job["error"] and "Traceback" not in job["error"]
    assert script.requests and script.requests[0]["path"] == "/v2/translate"  # it failed in translation, not before
