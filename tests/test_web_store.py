"""The job store's rules (dedupe, claiming, restart, runs) and the small pure helpers of the web app."""

from __future__ import annotations

import pytest

from sceneglot.commands.serve import parse_size
from sceneglot.errors import InputError
from sceneglot.web.app import is_loopback, job_options
from sceneglot.web.store import Store
from sceneglot.web.upload import label
from sceneglot.web.worker import Overall


def add(store: Store, job_id: str, key: str | None = "k", idem: str | None = None):
    return store.add(job_id, name="a.mp4", input_name="input.mp4", options={"to": "pt"}, content_key=key,
                     idempotency_key=idem)


def test_same_upload_or_key_finds_the_job_unless_it_failed(tmp_path):
    store = Store(tmp_path / "jobs.sqlite")
    first, created = add(store, "a" * 16)
    assert created and first.status == "queued"
    again, created = add(store, "b" * 16)
    assert not created and again.id == first.id
    keyed, created = add(store, "c" * 16, key="other", idem="K")
    assert created
    assert add(store, "d" * 16, key="third", idem="K")[0].id == keyed.id
    job = store.claim()
    assert job.id == first.id and job.run == 1 and job.status == "running"
    assert store.finish(job, "failed", "no translator")
    retry, created = add(store, "e" * 16)  # a failed job does not swallow the next try
    assert created and retry.id == "e" * 16


def test_claim_order_restart_and_stale_runs(tmp_path):
    store = Store(tmp_path / "jobs.sqlite")
    for name in ("a", "b"):
        add(store, name * 16, key=name)
    job = store.claim()
    assert job.id == "a" * 16
    assert store.add_event(job, "asr", 1, 2, progress=0.5)
    assert store.requeue_interrupted() == [job.id]  # the server stopped while it ran
    assert not store.add_event(job, "asr", 2, 2)  # the old run can no longer write
    assert not store.finish(job, "done")
    assert store.claim().id == "b" * 16  # b waited longer than a's requeue
    again = store.claim()
    assert again.id == job.id and again.run == 2 and store.events(job.id) == []
    assert store.queue(again.id, "render") is None  # busy: no second run queued
    assert store.finish(again, "done", seconds=3.5)
    assert store.get(job.id).progress == 1 and store.get(job.id).seconds == 3.5
    assert store.queue(again.id, "render").action == "render"
    assert store.cancel_queued(again.id) and store.get(again.id).status == "cancelled"


def test_progress_is_the_mean_of_the_stages():
    overall = Overall("render")
    assert overall.update("render", 50, 100) == pytest.approx(0.5 / len(overall.fractions), abs=1e-3)
    assert overall.update("render", 40, 100) == pytest.approx(0.5 / len(overall.fractions), abs=1e-3)  # never back
    run = Overall("run")
    n = len(run.fractions)
    assert run.update(next(iter(run.fractions)), 1, 1) == pytest.approx(1 / n, abs=1e-3)
    assert run.update("unlisted", 0, None) == pytest.approx(1 / (n + 1), abs=1e-3)


def test_helpers():
    assert parse_size("2G") == 2 << 30 and parse_size("500M") == 500 << 20 and parse_size("1024") == 1024
    with pytest.raises(InputError):
        parse_size("lots")
    assert is_loopback("127.0.0.1") and is_loopback("127.8.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.org")
    assert label("C:\\Users\\me\\clip.mp4") == "clip.mp4" and label("../../etc/passwd") == "passwd"
    assert label("a\x00b\nc.mp4") == "abc.mp4" and label("") == "upload"
    assert job_options({"to": "PT", "speakers": "2"})["num_speakers"] == 2
    for bad in ({"to": ""}, {"to": "pt", "speakers": "two"}, {"to": "pt", "translator": "x"},
                {"to": "pt", "speakers": "2", "min_speakers": "1"}):
        with pytest.raises(InputError):
            job_options(bad)
