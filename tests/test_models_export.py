"""ONNX exports into a fresh model store, two at once: a job's first run on a new machine does exactly that
(the speech thread exports pyannote while the vision thread exports Light-ASD)."""

from __future__ import annotations

import threading

import onnx
import pytest

from sceneglot.av import export as av_export
from sceneglot.speech import export as speech_export


@pytest.mark.slow
def test_two_threads_export_at_once_into_a_fresh_store(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path))
    start = threading.Barrier(2)
    done: dict[str, object] = {}

    def run(name, fn):
        start.wait()
        try:
            done[name] = fn()
        except BaseException as exc:  # the test reports what the thread raised
            done[name] = exc

    threads = [threading.Thread(target=run, args=("asd", av_export.onnx_paths)),
               threading.Thread(target=run, args=("segmentation", lambda: speech_export.onnx_paths("segmentation")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = {k: v for k, v in done.items() if isinstance(v, BaseException)}
    assert not errors, errors
    paths = [*done["asd"].values(), *done["segmentation"].values()]
    assert len(paths) == 5
    for path in paths:
        onnx.checker.check_model(str(path))  # whole graphs, not a half-written file
    assert not list(tmp_path.rglob("*.part*"))
