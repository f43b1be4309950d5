"""Which backends take a language pair where: directly, or through English when nothing does it directly.

The registries ship offline weights only for pairs with English on one side
(Bergamot en<->pt, Apertium en<->es/ca/gl), and Whisper turns speech in ~99
languages into English, so the way to reach the most targets offline is a
pivot: X->en (a text backend, else Whisper from the audio) then en->Y. A
direct route always wins. `plan` is pure apart from asking each backend what
it supports and whether it is set up here, so the translate command calls it
before any analysis: a target nothing can reach fails in a second, and the
message names only backends that really do the pair (or one of its legs).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BackendError, InputError
from .base import Translator, all_backends, create, norm_lang
from .languages import is_language

PIVOT = "en"


@dataclass(frozen=True)
class Leg:
    backend: Translator
    source: str  # '' when the spoken language is not known yet (Whisper then detects it)
    target: str

    @property
    def label(self) -> str:
        return f"{self.backend.name}:{self.source or '?'}>{self.target}"


@dataclass(frozen=True)
class Route:
    source: str
    target: str
    legs: tuple[Leg, ...]  # () when the text is already in the target language
    why: str

    @property
    def name(self) -> str:
        """What scene.json records per segment, e.g. "whisper:de>en + bergamot:en>pt"."""
        return " + ".join(leg.label for leg in self.legs)

    @property
    def pivot(self) -> bool:
        return len(self.legs) > 1


def _how(backend: Translator, source: str, target: str, has_audio: bool) -> str | None:
    """'' when `backend` does source->target here and now; what would enable it; None when it never could."""
    if not backend.supports(source, target):
        return None
    if getattr(backend, "needs_audio", False) and not has_audio:
        return "needs the input's audio"
    if hasattr(backend, "how_for"):  # one model per pair: the backend knows whether this one is here
        return backend.how_for(source, target)
    info = backend.info()
    return "" if info.available else info.how


def _best(backends: list[Translator], source: str, target: str, has_audio: bool) -> Translator | None:
    return next((b for b in backends if _how(b, source, target, has_audio) == ""), None)


def _could(backends: list[Translator], source: str, target: str, has_audio: bool) -> list[str]:
    out = []
    for b in backends:
        how = _how(b, source, target, has_audio)
        if how:
            out.append(f"{b.name} ({how})")
    return out


def check_language(code: str | None, what: str = "target") -> str:
    """The normalised code, or InputError for something that is not a language (a typo such as 'xx')."""
    norm = norm_lang(code)
    if not norm or not is_language(norm):
        raise InputError(f"not a language code for the {what}: {code!r} (use ISO 639-1, e.g. en, pt, es)")
    return norm


def plan(source: str | None, target: str, translator: str | None = None, options: dict | None = None,
         has_audio: bool = True, backends: list[Translator] | None = None) -> Route:
    """The route sceneglot takes for source->target, or BackendError naming what would make one.

    `source` None or '' means the spoken language is not known yet (any
    language Whisper hears). With `translator`, that backend must carry the
    pair or one leg of the pivot; the other leg is the best available one.
    """
    tgt = check_language(target)
    src = check_language(source, "spoken language") if source else ""
    if src == tgt:
        return Route(src, tgt, (), "already in the target language")
    everyone = backends if backends is not None else all_backends(options)
    named = None
    if translator:
        named = next((b for b in everyone if b.name == translator), None) or create(translator, options)
        info = named.info()
        if not info.available:
            raise BackendError(f"translator {translator} is not available: {info.how}")
    first_choice = [named] if named else everyone
    direct = _best(first_choice, src, tgt, has_audio)
    if direct:
        why = "asked for" if named else "first available backend for the pair"
        return Route(src, tgt, (Leg(direct, src, tgt),), f"direct, {why}")
    can_pivot = PIVOT not in (src, tgt)
    if can_pivot:
        options_for = [(first_choice, everyone), (everyone, first_choice)] if named else [(everyone, everyone)]
        for into, out_of in options_for:
            first, second = _best(into, src, PIVOT, has_audio), _best(out_of, PIVOT, tgt, has_audio)
            if first and second and (named is None or named in (first, second)):
                return Route(src, tgt, (Leg(first, src, PIVOT), Leg(second, PIVOT, tgt)),
                             f"no available backend does {src or 'any'}->{tgt} directly: through English")
    raise BackendError(_no_route(src, tgt, named, everyone, has_audio, can_pivot))


def _no_route(src: str, tgt: str, named: Translator | None, everyone: list[Translator], has_audio: bool,
              can_pivot: bool) -> str:
    pair = f"{src}->{tgt}" if src else f"?->{tgt} (any spoken language)"
    if named is not None:
        legs = f" or either leg of {src or '?'}->en->{tgt}" if can_pivot else ""
        return f"translator {named.name} cannot translate {pair}{legs} (it does {named.info().pairs})"
    could = _could(everyone, src, tgt, has_audio)
    if not src:  # the language is heard later: what does en->tgt also does the pivot's second leg
        could += [c for c in _could(everyone, PIVOT, tgt, has_audio) if c not in could]
    elif can_pivot:  # what would open the missing leg of a pivot
        first, second = _best(everyone, src, PIVOT, has_audio), _best(everyone, PIVOT, tgt, has_audio)
        if first and not second:
            could += [f"{c} for en->{tgt} after {first.name}" for c in _could(everyone, PIVOT, tgt, has_audio)
                      if c not in could]
        elif second and not first:
            could += [f"{c} for {src or '?'}->en before {second.name}"
                      for c in _could(everyone, src, PIVOT, has_audio) if c not in could]
    if not could:
        return f"no translator can do {pair}"
    return f"no available translator for {pair}; would work: {'; '.join(could)}"


def routes_table(sources: list[str], targets: list[str], options: dict | None = None,
                 has_audio: bool = True) -> list[tuple[str, str, Route | None, str]]:
    """(source, target, route or None, why) for every pair: what `sceneglot translators --from/--to` prints."""
    everyone = all_backends(options)
    rows = []
    for s in sources:
        for t in targets:
            try:
                route = plan(s, t, options=options, has_audio=has_audio, backends=everyone)
                rows.append((s, t, route, route.why))
            except BackendError as exc:
                rows.append((s, t, None, str(exc)))
    return rows
