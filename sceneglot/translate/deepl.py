"""DeepL through the official `deepl` client: the original system's choice, best quality for ~30 languages.

Configuration (options override environment):
- DEEPL_AUTH_KEY: required; keys ending in ":fx" go to the free endpoint, others to pro (the client decides).
- DEEPL_SERVER_URL / server_url: another endpoint (a proxy, or a local test server).
- DEEPL_FORMALITY / formality: default, more, less, prefer_more, prefer_less.
- DEEPL_GLOSSARY_ID / glossary: a glossary id made beforehand for the language pair.
Retries are ours (retry.py), so the client's own are turned off.
"""

from __future__ import annotations

import importlib.util
import os

from ..errors import BackendError
from .base import BackendInfo, Request, check_aligned
from .retry import TransientError, with_retries

PIP = "deepl==1.32.0"
# DeepL's languages (v2 /languages, 2025); targets en and pt need a variant.
LANGUAGES = {"ar", "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "he", "hu", "id", "it", "ja", "ko",
             "lt", "lv", "nb", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "th", "tr", "uk", "vi", "zh"}
_TARGET_VARIANT = {"en": "EN-US", "pt": "PT-BR", "zh": "ZH-HANS"}
FORMALITIES = {"default", "more", "less", "prefer_more", "prefer_less"}


class DeepLTranslator:
    name = "deepl"
    uses_context = True
    batch_size = 25

    def __init__(self, deepl_auth_key: str | None = None, deepl_server_url: str | None = None,
                 formality: str | None = None, glossary: str | None = None, timeout: float = 30.0,
                 attempts: int = 4, batch_size: int | None = None, **_options) -> None:
        self.key = deepl_auth_key or os.environ.get("DEEPL_AUTH_KEY", "")
        self.server_url = deepl_server_url or os.environ.get("DEEPL_SERVER_URL") or None
        self.formality = formality or os.environ.get("DEEPL_FORMALITY") or None
        self.glossary = glossary or os.environ.get("DEEPL_GLOSSARY_ID") or None
        self.timeout = timeout
        self.attempts = attempts
        self.batch_size = batch_size or type(self).batch_size
        if self.formality and self.formality not in FORMALITIES:
            raise BackendError(f"deepl formality must be one of {', '.join(sorted(FORMALITIES))}")
        self.variant = f"formality={self.formality or ''};glossary={self.glossary or ''}"
        self._client = None

    def info(self) -> BackendInfo:
        pairs = "any<->any of " + " ".join(sorted(LANGUAGES))
        if importlib.util.find_spec("deepl") is None:
            return BackendInfo(self.name, False, pairs, offline=False, how=f"pip install {PIP}")
        if not self.key:
            return BackendInfo(self.name, False, pairs, offline=False, how="set DEEPL_AUTH_KEY")
        endpoint = self.server_url or ("free" if self.key.endswith(":fx") else "pro")
        return BackendInfo(self.name, True, pairs, offline=False, note=f"endpoint: {endpoint}")

    def supports(self, source: str, target: str) -> bool:
        return (source in LANGUAGES or source == "") and target in LANGUAGES and source != target

    def client(self):
        if self._client is None:
            import deepl
            from deepl import http_client

            http_client.max_network_retries = 0  # our retry loop decides, with our limits
            http_client.min_connection_timeout = self.timeout
            if not self.key:
                raise BackendError("deepl needs an API key: set DEEPL_AUTH_KEY")
            self._client = deepl.Translator(self.key, server_url=self.server_url, send_platform_info=False)
        return self._client

    def translate(self, request: Request) -> list[str]:
        client = self.client()
        texts = [p.text for p in request.phrases]
        first = request.phrases[0]
        before, _ = request.neighbours(first, 2)
        # DeepL takes one context string per request: the lines just before this batch.
        context = " ".join(p.text for p in before) or None
        kwargs = {
            "source_lang": request.source.upper() or None,
            "target_lang": _TARGET_VARIANT.get(request.target, request.target.upper()),
            "context": context,
        }
        if self.formality:
            kwargs["formality"] = self.formality
        if self.glossary:
            kwargs["glossary"] = self.glossary
        results = with_retries(lambda: self._call(client, texts, kwargs), what="deepl", attempts=self.attempts)
        return check_aligned(self.name, request, [r.text for r in results])

    @staticmethod
    def _call(client, texts: list[str], kwargs: dict):
        from deepl import exceptions as ex

        try:
            return client.translate_text(texts, **kwargs)
        except ex.QuotaExceededException:
            raise BackendError("deepl: quota for this billing period exceeded (HTTP 456)") from None
        except ex.AuthorizationException:
            raise BackendError("deepl: the auth key was refused (HTTP 403): check DEEPL_AUTH_KEY") from None
        except ex.TooManyRequestsException as exc:
            raise TransientError(f"rate limited (HTTP 429): {exc}") from None
        except ex.ConnectionException as exc:
            if exc.should_retry:
                raise TransientError(f"network: {exc}") from None
            raise BackendError(f"deepl: {exc}") from None
        except ex.DeepLException as exc:
            status = getattr(exc, "http_status_code", None)
            if status is not None and status >= 500:
                raise TransientError(f"server error (HTTP {status})") from None
            raise BackendError(f"deepl: {exc}") from None
        except (ValueError, TypeError, KeyError) as exc:  # malformed reply the client could not read
            raise BackendError(f"deepl: unreadable reply ({exc})") from None
