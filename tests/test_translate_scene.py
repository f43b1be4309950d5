"""translate_scene end to end on a real transcript: sentences, batches, cache, resume, several languages."""

from __future__ import annotations

import pytest
from fake_servers import fake_translate, serve
from test_translate_sentences import stm_segments

from sceneglot.errors import BackendError, InputError
from sceneglot.scene import MediaInfo, Scene, Segment, Speaker
from sceneglot.translate import retry, translate_scene
from sceneglot.translate.bergamot import BergamotTranslator
from sceneglot.translate.cache import Cache


def stm_scene(max_chars: int = 24) -> Scene:
    segments = stm_segments(max_chars)
    speakers = sorted({s.speaker for s in segments})
    media = MediaInfo(path="sample.wav", duration=30.0, fps=0.0, width=0, height=0, has_audio=True, has_video=False)
    return Scene(media=media, source_language="en", speakers=[Speaker(s) for s in speakers], segments=segments)


def test_translate_scene_with_bergamot_fills_every_segment(tmp_path):
    scene = stm_scene()
    out = translate_scene(scene, "pt", cache_path=tmp_path / "c.sqlite")
    assert out.target_language == "pt" and scene.target_language is None  # the input is left alone
    assert all(s.translation for s in out.segments)
    texts = {s.text: s.translation for s in out.segments}
    assert texts["Hello?"].lower().startswith("olá")
    # "I didn't know you were there." was cut in two; the Portuguese sentence is spread over both pieces.
    i = next(k for k, s in enumerate(out.segments) if s.text.startswith("I didn't know"))
    first, second = out.segments[i], out.segments[i + 1]
    assert not first.text.endswith(".") and second.text.endswith(".")
    assert f"{first.translation} {second.translation}" == "Eu não sabia que você estava lá."
    # One entry per distinct utterance (13 in the STM, "Hello?" twice), not per subtitle piece.
    assert len(Cache(tmp_path / "c.sqlite")) == 12
    from sceneglot import scene as scene_io

    scene_io.save(out, tmp_path / "scene.json")
    assert scene_io.load(tmp_path / "scene.json").segments[i].translation == first.translation


def test_second_run_comes_from_the_cache(tmp_path, monkeypatch):
    first = translate_scene(stm_scene(), "pt", cache_path=tmp_path / "c.sqlite")

    def broken(self, request):
        raise AssertionError("the backend must not be called for cached sentences")

    monkeypatch.setattr(BergamotTranslator, "translate", broken)
    again = translate_scene(stm_scene(), "pt", cache_path=tmp_path / "c.sqlite")
    assert [s.translation for s in again.segments] == [s.translation for s in first.segments]


def test_a_failed_run_resumes_where_it_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(retry, "delays", lambda attempts, base, cap: [0.0] * (attempts - 1))
    opts = {"openai_model": "m", "batch_size": 4}
    cache = tmp_path / "c.sqlite"
    # 13 sentences in batches of 4: two batches succeed, the third fails four times.
    with serve("openai", ["ok", "ok", "500", "500", "500", "500"]) as (url, script):
        opts["openai_base_url"] = url
        with pytest.raises(BackendError, match="4 attempts"):
            translate_scene(stm_scene(), "de", translator="openai", cache_path=cache, options=opts)
    assert len(script.requests) == 6
    assert len(Cache(cache)) == 8  # the two good batches were kept
    with serve("openai") as (url, script):
        opts["openai_base_url"] = url
        out = translate_scene(stm_scene(), "de", translator="openai", cache_path=cache, options=opts)
    # Only the 5 missing sentences were asked for: one batch of 4, one of 1.
    assert [len(r["body"]["response_format"]["json_schema"]["schema"]["properties"]["translations"]["items"]
                ["properties"]["id"]["enum"]) for r in script.requests] == [4, 1]
    assert len(Cache(cache)) == 13
    assert all(s.translation for s in out.segments)
    joined = " ".join(s.translation for s in out.segments if s.speaker == "Sheila")
    assert fake_translate("Neither did I.", "de") in joined


def test_languages_are_grouped_and_target_language_text_is_kept(tmp_path):
    media = MediaInfo(path="x.wav", duration=5.0, fps=0.0, width=0, height=0, has_audio=False, has_video=False)
    scene = Scene(media=media, speakers=[Speaker("A"), Speaker("B")], segments=[
        Segment(0, 0.0, 1.0, "Bom dia.", speaker="A", language="pt"),
        Segment(1, 1.0, 2.0, "Good morning.", speaker="B", language="en"),
        Segment(2, 2.0, 3.0, "How are", speaker="B", language="en"),
        Segment(3, 3.0, 4.0, "you?", speaker="B", language="en"),
    ])
    out = translate_scene(scene, "pt-BR", cache_path=tmp_path / "c.sqlite")
    assert out.target_language == "pt"
    assert out.segments[0].translation == "Bom dia."
    assert out.segments[1].translation == "Bom dia."
    assert out.segments[2].translation and out.segments[3].translation
    assert "?" in out.segments[3].translation


def test_no_backend_for_the_pair_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    monkeypatch.delenv("SCENEGLOT_OPENAI_MODEL", raising=False)
    with pytest.raises(BackendError, match=r"en->ja.*set DEEPL_AUTH_KEY"):
        translate_scene(stm_scene(), "ja", cache_path=tmp_path / "c.sqlite")
    with pytest.raises(InputError, match="not a language code"):
        translate_scene(stm_scene(), "", cache_path=tmp_path / "c.sqlite")


def test_backoff_grows_and_honours_retry_after():
    waits: list[float] = []
    calls = iter([retry.TransientError("429", retry_after=3.0), retry.TransientError("500"), "done"])

    def call():
        item = next(calls)
        if isinstance(item, Exception):
            raise item
        return item

    assert retry.with_retries(call, what="x", base=0.5, cap=8, sleep=waits.append) == "done"
    assert 3.0 <= waits[0] <= 3.75 and 0.75 <= waits[1] <= 1.25
    d = retry.delays(5, 0.5, 3.0)
    assert len(d) == 4 and d[3] <= 3.75 and d[2] >= 1.5
