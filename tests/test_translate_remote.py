"""DeepL and OpenAI-compatible backends against local servers speaking their wire formats, errors included."""

from __future__ import annotations

import time

import pytest
from fake_servers import fake_translate, serve

from sceneglot.errors import BackendError
from sceneglot.translate import create, retry
from sceneglot.translate.base import Phrase, Request

LINES = ["Hello?", "I didn't know you were there.", "Neither did I.", "This is Diane in New Jersey."]


def req(source="en", target="pt", n=3) -> Request:
    lines = tuple(Phrase(i, t, "Diane" if i % 2 == 0 else "Sheila") for i, t in enumerate(LINES))
    return Request(lines[1:1 + n], source, target, lines)


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch):
    """Keep the backoff schedule but shrink it: the tests check behaviour, not patience."""
    real = retry.delays
    monkeypatch.setattr(retry, "delays", lambda attempts, base, cap: [d / 100 for d in real(attempts, base, cap)])


def deepl(url, **kw):
    return create("deepl", {"deepl_auth_key": "test-key:fx", "deepl_server_url": url, **kw})


def test_deepl_wire_format_options_and_alignment():
    with serve("deepl") as (url, script):
        t = deepl(url, formality="more", glossary="gls-1")
        assert t.info().available and "127.0.0.1" in t.info().note
        out = t.translate(req())
    assert out == [fake_translate(x, "PT-BR") for x in LINES[1:4]]
    (sent,) = script.requests
    assert sent["path"] == "/v2/translate"
    assert sent["headers"]["Authorization"] == "DeepL-Auth-Key test-key:fx"
    body = sent["body"]
    assert body["text"] == LINES[1:4] and body["target_lang"] == "PT-BR" and body["source_lang"] == "EN"
    assert body["formality"] == "more" and body["glossary_id"] == "gls-1"
    assert body["context"] == "Hello?"  # the line before the batch


def test_deepl_free_and_pro_endpoints_follow_the_key(monkeypatch):
    monkeypatch.delenv("DEEPL_SERVER_URL", raising=False)
    assert create("deepl", {"deepl_auth_key": "abc:fx"}).client().server_url == "https://api-free.deepl.com"
    assert create("deepl", {"deepl_auth_key": "abc"}).client().server_url == "https://api.deepl.com"
    with pytest.raises(BackendError, match="formality"):
        create("deepl", {"deepl_auth_key": "abc", "formality": "very"})


@pytest.mark.parametrize("steps", [["429"], ["500", "500"], ["429", "500", "429"]])
def test_deepl_retries_rate_limits_and_server_errors(steps):
    with serve("deepl", steps) as (url, script):
        out = deepl(url).translate(req(n=2))
    assert out == [fake_translate(x, "PT-BR") for x in LINES[1:3]]
    assert len(script.requests) == len(steps) + 1


def test_deepl_gives_up_after_the_attempts():
    with serve("deepl", default="429") as (url, script), pytest.raises(BackendError, match=r"4 attempts.*429"):
        deepl(url).translate(req())
    assert len(script.requests) == 4


@pytest.mark.parametrize(("step", "message"), [
    ("456", "quota"), ("403", "auth key was refused"), ("malformed", "0 translations for 3"),
    ("wrong-count", "2 translations for 3")])
def test_deepl_errors_that_are_not_retried(step, message):
    with serve("deepl", [step]) as (url, script), pytest.raises(BackendError, match=message):
        deepl(url).translate(req())
    assert len(script.requests) == 1


def test_deepl_timeout_is_retried():
    with serve("deepl", ["timeout"], delay=1.5) as (url, script):
        t0 = time.monotonic()
        out = deepl(url, timeout=0.4).translate(req(n=1))
    assert out == [fake_translate(LINES[1], "PT-BR")]
    assert len(script.requests) == 2 and time.monotonic() - t0 < 5


def openai(url, **kw):
    return create("openai", {"openai_base_url": url, "openai_model": "llama-test", "openai_api_key": "sk-test", **kw})


def test_openai_wire_format_context_and_structured_output():
    with serve("openai") as (url, script):
        out = openai(url).translate(req())
    assert out == [fake_translate(x, "pt") for x in LINES[1:4]]
    (sent,) = script.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-test"
    body = sent["body"]
    assert body["model"] == "llama-test"
    schema = body["response_format"]["json_schema"]["schema"]
    items = schema["properties"]["translations"]
    assert items["minItems"] == items["maxItems"] == 3
    assert items["items"]["properties"]["id"]["enum"] == [1, 2, 3]
    import json

    user = json.loads(body["messages"][1]["content"])
    assert user["context_before"] == [{"speaker": "Diane", "text": "Hello?"}]
    assert [ln["speaker"] for ln in user["lines"]] == ["Sheila", "Diane", "Sheila"]
    assert "en to pt" in body["messages"][0]["content"]


@pytest.mark.parametrize("bad", ["wrong-count", "not-json"])
def test_openai_reasks_once_when_the_reply_breaks_alignment(bad):
    with serve("openai", [bad]) as (url, script):
        out = openai(url).translate(req())
    assert out == [fake_translate(x, "pt") for x in LINES[1:4]]
    assert len(script.requests) == 2
    second = script.requests[1]["body"]["messages"]
    assert second[-1]["role"] == "user" and "That reply was wrong" in second[-1]["content"]


def test_openai_fails_clearly_when_the_count_stays_wrong():
    with serve("openai", default="wrong-count") as (url, script), \
            pytest.raises(BackendError, match=r"did not keep one translation per line: 2 translations for 3"):
        openai(url).translate(req())
    assert len(script.requests) == 2


@pytest.mark.parametrize(("steps", "calls"), [(["429"], 2), (["500", "500"], 3), (["timeout"], 2)])
def test_openai_retries(steps, calls):
    with serve("openai", steps, delay=1.5) as (url, script):
        out = openai(url, timeout=0.4).translate(req(n=2))
    assert out == [fake_translate(x, "pt") for x in LINES[1:3]]
    assert len(script.requests) == calls


@pytest.mark.parametrize(("steps", "message"), [
    (["malformed"], "not a chat completion"), (["403"], "refused the key"),
    (["500"] * 4, "4 attempts.*HTTP 500")])
def test_openai_errors(steps, message):
    with serve("openai", steps) as (url, _), pytest.raises(BackendError, match=message):
        openai(url).translate(req())


def test_openai_unreachable_endpoint_is_a_clear_error():
    with pytest.raises(BackendError, match="cannot connect"):
        openai("http://127.0.0.1:9/v1", attempts=2).translate(req(n=1))
