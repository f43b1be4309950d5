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


# The languages Whisper hears (its tokenizer's language tokens, large-v3's yue included), as codes: a list, so
# planning a route imports no model code (faster_whisper imports CTranslate2). A test checks it against the tokenizer.
_WHISPER = """
af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht hu hy id is
it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt ro ru sa sd si sk
sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh yue
"""
WHISPER = frozenset(_WHISPER.split())


def whisper_languages() -> frozenset[str]:
    """The languages Whisper can hear (and so translate into English from the audio)."""
    return WHISPER
