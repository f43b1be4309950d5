"""Offline backends with their real models, the registry's choice, and the NLLB/OPUS-MT glue."""

from __future__ import annotations

import pytest
from media_fixtures import JFK
from tools import need

from sceneglot.errors import BackendError, ModelError
from sceneglot.translate import available, create, plan
from sceneglot.translate.base import Phrase, Request, SourceAudio


def req(texts: list[str], source: str, target: str, **kw) -> Request:
    phrases = tuple(Phrase(i, t, "S0") for i, t in enumerate(texts))
    return Request(phrases, source, target, phrases, **kw)


def test_bergamot_en_pt_and_back():
    b = create("bergamot")
    assert b.info().available and b.supports("en", "pt") and b.supports("pt", "en") and not b.supports("en", "es")
    out = b.translate(req(["I didn't know you were there.", "Hello?", "Neither did I."], "en", "pt"))
    assert len(out) == 3
    assert "sabia" in out[0] and "você" in out[0]
    assert out[1].lower().startswith("olá")
    back = b.translate(req(["Eu não sabia que você estava lá."], "pt", "en"))
    assert back == ["I didn't know you were there."]


def test_bergamot_weights_are_checked_by_the_model_store():
    from sceneglot import models

    folder = models.path("bergamot-enpt")
    assert (folder / "model.enpt.intgemm.alphas.bin").is_file()


def test_apertium_pairs_and_translations():
    need("apertium", "the apertium backend")
    a = create("apertium")
    info = a.info()
    assert info.available
    for pair in [("en", "es"), ("es", "en"), ("en", "ca"), ("en", "gl")]:
        assert a.supports(*pair), pair
    out = a.translate(req(["Hello?", "This is Diane in New Jersey.", "Oh, I'm originally from Chicago also."],
                          "en", "es"))
    assert len(out) == 3
    assert out[0].lower().startswith("hola")
    assert out[1] == "Esto es Diane en New Jersey."
    assert "Chicago" in out[2] and "también" in out[2]
    assert "*" not in " ".join(out)  # unknown-word marks are switched off
    assert "Chicago" in a.translate(req(["Soy de Chicago."], "es", "en"))[0]
    ca = a.translate(req(["Hello, my friend."], "en", "ca"))[0]
    assert "amic" in ca.lower()


def test_plan_prefers_available_backends_and_explains_what_would_work(monkeypatch):
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    monkeypatch.delenv("SCENEGLOT_OPENAI_MODEL", raising=False)
    assert plan("en", "pt").name == "bergamot:en>pt"
    assert plan("en", "es").name == "apertium:en>es"  # installed by scripts/debian-packages.txt
    assert plan("de", "en", has_audio=True).name == "whisper:de>en"
    with pytest.raises(BackendError) as err:
        plan("en", "pl")
    msg = str(err.value)
    assert "en->pl" in msg and "DEEPL_AUTH_KEY" in msg and "SCENEGLOT_OPENAI_MODEL" in msg and "nllb" in msg
    assert "opus-mt" not in msg  # Helsinki-NLP published no opus-mt-en-pl: suggesting it would be a dead end
    with pytest.raises(BackendError, match=r"opus-mt:pl-en"):  # that one exists, and text is all there is
        plan("pl", "en", has_audio=False)
    with pytest.raises(BackendError, match="not available: set DEEPL_AUTH_KEY"):
        plan("en", "pt", "deepl")
    with pytest.raises(BackendError, match="cannot translate en->es"):
        plan("en", "es", "bergamot")
    with pytest.raises(BackendError, match="unknown translator"):
        plan("en", "es", "babelfish")
    monkeypatch.setenv("DEEPL_AUTH_KEY", "k:fx")
    assert plan("en", "pl").name == "deepl:en>pl"


def test_available_lists_every_backend():
    names = [i.name for i in available()]
    assert names == ["deepl", "openai", "nllb", "opus-mt", "bergamot", "apertium", "whisper"]
    for info in available():
        assert info.available or info.how  # an unavailable backend always says how to get it


@pytest.mark.slow
def test_whisper_translate_task_on_real_audio():
    """The audio span of each phrase goes through Whisper's translate task (English in -> English out here)."""
    w = create("whisper")
    assert w.info().available and w.supports("es", "en") and not w.supports("en", "pt")
    phrases = (Phrase(0, "x", "S0", 0.0, 4.0), Phrase(1, "y", "S0", 6.0, 11.0), Phrase(2, "z", "S0", 60.0, 61.0))
    out = w.translate(Request(phrases, "en", "en", phrases, SourceAudio(str(JFK))))
    assert len(out) == 3
    assert "americans" in out[0].lower()
    assert "country" in out[1].lower()
    assert out[2] == ""  # past the end of the audio
    with pytest.raises(BackendError, match="audio"):
        w.translate(Request(phrases, "de", "en", phrases))


def test_ctranslate_offline_lookup_fails_clearly(monkeypatch, tmp_path):
    from sceneglot.translate import ctranslate

    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path))
    monkeypatch.setenv("SCENEGLOT_OFFLINE", "1")
    n = create("nllb")
    info = n.info()
    assert not info.available and str(tmp_path) in info.how and "nllb" in info.how
    assert n.supports("en", "pl") and n.supports("ja", "ko") and not n.supports("en", "xx")
    with pytest.raises(ModelError, match="SCENEGLOT_OFFLINE"):
        n.translate(req(["Hello."], "en", "pl"))
    o = create("opus-mt")
    assert not o.info().available and o.supports("en", "de") and "opus-mt:en-de" in o.how_for("en", "de")
    # A conversion placed in the cache is found, and the pair becomes available.
    folder = ctranslate.model_dir(ctranslate.opus_source("en", "de"))
    folder.mkdir(parents=True)
    for _, name in ctranslate.opus_source("en", "de").files:
        (folder / name).write_bytes(b"x")
    assert o.how_for("en", "de") == "" and o.info().available and "en-de" in o.info().pairs
    monkeypatch.delenv("DEEPL_AUTH_KEY", raising=False)
    monkeypatch.delenv("SCENEGLOT_OPENAI_MODEL", raising=False)
    assert plan("en", "de").name == "opus-mt:en>de"  # the only backend with this pair here


def test_ctranslate_download_error_names_the_model(monkeypatch, tmp_path):
    from sceneglot.translate import ctranslate

    monkeypatch.setenv("SCENEGLOT_HOME", str(tmp_path))
    monkeypatch.delenv("SCENEGLOT_OFFLINE", raising=False)
    monkeypatch.setattr(ctranslate, "HUB", "http://127.0.0.1:9/{repo}/{file}")  # nothing listens on port 9
    with pytest.raises(ModelError, match=r"opus-mt-en-de.*download of .*gaudi/opus-mt-en-de-ctranslate2/model.bin"):
        ctranslate.fetch(ctranslate.opus_source("en", "de"))


def test_ctranslate_tokenisation_glue_with_a_real_sentencepiece_model():
    """The NLLB/Marian framing around real SentencePiece pieces (Bergamot's en-pt vocabulary)."""
    import sentencepiece

    from sceneglot import models
    from sceneglot.translate import ctranslate

    sp = sentencepiece.SentencePieceProcessor(model_file=str(models.path("bergamot-enpt") / "vocab.enpt.spm"))
    text = "I didn't know you were there."
    pieces = sp.encode(text, out_type=str)
    assert ctranslate.nllb_source_tokens(pieces, "eng_Latn") == ["eng_Latn", *pieces, "</s>"]
    assert ctranslate.marian_source_tokens(pieces)[-1] == "</s>"
    decoded = ["por_Latn", *pieces, "</s>"]
    assert ctranslate.detokenize(ctranslate.strip_target(decoded, "por_Latn")) == text
    assert ctranslate.detokenize(ctranslate.strip_target([*pieces, "</s>"])) == sp.decode(pieces)
