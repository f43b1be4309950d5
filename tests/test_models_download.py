"""The model store's download path, against a static file server on 127.0.0.1 (plain HTTP GET, as GitHub raw)."""

from __future__ import annotations

import dataclasses

import pytest

from sceneglot import models
from sceneglot.errors import ModelError
from tests.fake_servers import serve_files as serve
from tests.media_fixtures import SHARED

WEIGHTS = SHARED / "models" / "light-asd" / "finetuning_TalkSet.model"


@pytest.fixture
def online_store(tmp_path, monkeypatch):
    """An empty model cache, no local weight folders, downloads allowed; returns a URL setter for light-asd."""
    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path))
    monkeypatch.delenv("SCENEGLOT_MODEL_PATH", raising=False)
    monkeypatch.delenv("SCENEGLOT_OFFLINE", raising=False)

    def point_at(url: str) -> None:
        model = dataclasses.replace(models.get("light-asd"), url=url)
        monkeypatch.setitem(models.MODELS, "light-asd", model)

    return point_at


def test_weights_download_once_and_are_checked(online_store, tmp_path):
    body = WEIGHTS.read_bytes()
    with serve({"/weight/finetuning_TalkSet.model": body}) as (base, asked):
        online_store(base + "/weight/")
        got = models.file("light-asd")
        assert got == tmp_path / "models" / "light-asd" / "finetuning_TalkSet.model"
        assert got.read_bytes() == body
        assert models.file("light-asd") == got  # the second time comes from the cache
        assert asked == ["/weight/finetuning_TalkSet.model"]
        assert models.status("light-asd").available


def test_corrupt_download_is_refused_and_removed(online_store, tmp_path):
    body = bytearray(WEIGHTS.read_bytes())
    body[1000] ^= 0xFF
    with serve({"/weight/finetuning_TalkSet.model": bytes(body)}) as (base, _):
        online_store(base + "/weight/")
        with pytest.raises(ModelError, match=r"downloaded finetuning_TalkSet\.model does not match its sha256"):
            models.file("light-asd")
    folder = tmp_path / "models" / "light-asd"
    assert not folder.exists() or not any(folder.iterdir())  # nothing half-trusted is left behind


def test_missing_file_on_the_server_names_the_url(online_store):
    with serve({}) as (base, _):
        online_store(base + "/weight/")
        with pytest.raises(ModelError, match=r"download of http://127\.0\.0\.1:\d+/weight/finetuning_TalkSet"
                                             r"\.model failed \(HTTP Error 404"):
            models.file("light-asd")


def test_offline_never_touches_the_network(online_store, monkeypatch):
    monkeypatch.setenv("SCENEGLOT_OFFLINE", "1")
    with serve({}) as (base, asked):
        online_store(base + "/weight/")
        with pytest.raises(ModelError, match="SCENEGLOT_OFFLINE is set"):
            models.file("light-asd")
        assert asked == []
