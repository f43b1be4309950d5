"""Which language codes exist, so a typo such as `--to xx` is refused before any work.

ISO 639-1 (the two-letter codes people type), plus the few other codes
Whisper emits for the languages it hears (haw, yue). A backend that says it
does "any pair" (an LLM endpoint) still needs real languages on both sides.
"""

from __future__ import annotations

_ISO_639_1 = """
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el
en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja
jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd
ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss
st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1.split())
# Whisper's codes outside ISO 639-1 (faster_whisper.tokenizer lists them all).
WHISPER_EXTRA = frozenset({"haw", "yue"})

# A name for the codes the README and the messages mention most.
NAMES = {"en": "English", "pt": "Portuguese", "es": "Spanish", "ca": "Catalan", "gl": "Galician", "de": "German",
         "fr": "French", "ru": "Russian", "ja": "Japanese", "zh": "Chinese", "pl": "Polish", "it": "Italian"}


def is_language(code: str) -> bool:
    return code in ISO_639_1 or code in WHISPER_EXTRA


def whisper_languages() -> frozenset[str]:
    """The languages Whisper can hear (and so translate into English from the audio)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)
