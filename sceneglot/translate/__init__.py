"""Translation of a scene's phrases: pluggable backends, whole sentences per speaker, a persistent cache.

    from sceneglot.translate import translate_scene, available
    scene = translate_scene(scene, "pt")            # best route per spoken language (direct, else via English)
    scene = translate_scene(scene, "es", translator="apertium")
"""

from .base import BACKENDS, BackendInfo, Phrase, Request, Translator, available, create, norm_lang
from .route import Route, plan
from .run import translate_scene

__all__ = ["BACKENDS", "BackendInfo", "Phrase", "Request", "Route", "Translator", "available", "create", "norm_lang",
           "plan", "translate_scene"]
