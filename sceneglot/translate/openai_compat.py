"""Any OpenAI-compatible /v1/chat/completions endpoint (OpenAI, a local Ollama or llama.cpp server, vLLM...).

Configuration (options override environment):
- SCENEGLOT_OPENAI_MODEL / openai_model: the model name; setting it enables the backend.
- SCENEGLOT_OPENAI_BASE_URL or OPENAI_BASE_URL / openai_base_url: default https://api.openai.com/v1
  (Ollama: http://127.0.0.1:11434/v1, llama.cpp server: http://127.0.0.1:8080/v1).
- SCENEGLOT_OPENAI_API_KEY or OPENAI_API_KEY / openai_api_key: sent as a Bearer token when set.
The model gets the batch as JSON lines {id, speaker, text} plus the surrounding dialogue
as context, and must answer {"translations": [{"id", "text"}]} with exactly those ids
(JSON-schema structured output). A reply with missing, extra or repeated ids is
re-asked once, naming the problem, then fails with BackendError.
"""

from __future__ import annotations

import functools
import json
import os
import urllib.error
import urllib.request

from ..errors import BackendError
from .base import BackendInfo, Request, check_aligned
from .languages import is_language
from .retry import TransientError, with_retries

DEFAULT_BASE = "https://api.openai.com/v1"
CONTEXT_LINES = 3

SYSTEM = (
    "You translate film dialogue subtitles from {source} to {target}. Each line is a whole sentence said by "
    "the named speaker. Keep the register, names and meaning; do not merge, split, add or drop lines. "
    'Answer only JSON: {{"translations": [{{"id": <id>, "text": "<translation>"}}, ...]}} with exactly one '
    "entry for each id you are given."
)


def _schema(ids: list[int]) -> dict:
    return {
        "name": "translations",
        "strict": True,
        "schema": {
            "type": "object",
            "additionalProperties": False,
            "required": ["translations"],
            "properties": {
                "translations": {
                    "type": "array",
                    "minItems": len(ids),
                    "maxItems": len(ids),
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["id", "text"],
                        "properties": {"id": {"type": "integer", "enum": ids}, "text": {"type": "string"}},
                    },
                }
            },
        },
    }


def _language_name(code: str) -> str:
    return code or "the detected language"


class OpenAITranslator:
    name = "openai"
    uses_context = True
    batch_size = 20

    def __init__(self, openai_model: str | None = None, openai_base_url: str | None = None,
                 openai_api_key: str | None = None, timeout: float = 60.0, attempts: int = 4,
                 temperature: float = 0.0, batch_size: int | None = None, **_options) -> None:
        env = os.environ.get
        self.model = openai_model or env("SCENEGLOT_OPENAI_MODEL", "")
        self.base_url = (openai_base_url or env("SCENEGLOT_OPENAI_BASE_URL") or env("OPENAI_BASE_URL")
                         or DEFAULT_BASE).rstrip("/")
        self.key = openai_api_key or env("SCENEGLOT_OPENAI_API_KEY") or env("OPENAI_API_KEY") or ""
        self.timeout = timeout
        self.attempts = attempts
        self.temperature = temperature
        self.batch_size = batch_size or type(self).batch_size
        self.variant = self.model  # the endpoint may move (port, proxy); the model decides the output

    def info(self) -> BackendInfo:
        pairs = "any->any (as good as the model)"
        if not self.model:
            return BackendInfo(self.name, False, pairs, offline=False,
                               how="set SCENEGLOT_OPENAI_MODEL (and SCENEGLOT_OPENAI_BASE_URL for a local server)")
        return BackendInfo(self.name, True, pairs, offline=False, note=f"{self.model} at {self.base_url}")

    def supports(self, source: str, target: str) -> bool:
        """Any pair of real languages (a chat model is asked in words, so 'xx' is not one)."""
        return is_language(target) and (source == "" or is_language(source)) and source != target

    def messages(self, request: Request) -> list[dict]:
        first, last = request.phrases[0], request.phrases[-1]
        before, _ = request.neighbours(first, CONTEXT_LINES)
        _, after = request.neighbours(last, CONTEXT_LINES)
        payload = {
            "context_before": [{"speaker": p.speaker, "text": p.text} for p in before],
            "lines": [{"id": p.id, "speaker": p.speaker, "text": p.text} for p in request.phrases],
            "context_after": [{"speaker": p.speaker, "text": p.text} for p in after],
        }
        system = SYSTEM.format(source=_language_name(request.source), target=request.target)
        return [{"role": "system", "content": system},
                {"role": "user", "content": json.dumps(payload, ensure_ascii=False)}]

    def translate(self, request: Request) -> list[str]:
        if not self.model:
            raise BackendError("openai translator needs a model: set SCENEGLOT_OPENAI_MODEL")
        ids = [p.id for p in request.phrases]
        messages = self.messages(request)
        problem = ""
        for _ask in range(2):
            content = with_retries(functools.partial(self._post, messages, ids),
                                   what=f"openai endpoint {self.base_url}", attempts=self.attempts)
            got, problem = parse_reply(content, ids)
            if got is not None:
                return check_aligned(self.name, request, [got[i] for i in ids])
            messages = [*messages, {"role": "assistant", "content": content},
                        {"role": "user", "content": f"That reply was wrong: {problem}. Answer again with exactly "
                                                    f"one translation for each of the ids {ids}."}]
        raise BackendError(f"openai endpoint {self.base_url} ({self.model}) did not keep one translation per "
                           f"line: {problem}")

    def _post(self, messages: list[dict], ids: list[int]) -> str:
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "response_format": {"type": "json_schema", "json_schema": _schema(ids)},
        }
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode("utf-8"),
                                     headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode("utf-8", "replace")
            if exc.code == 429 or exc.code >= 500:
                after = exc.headers.get("Retry-After") if exc.headers else None
                raise TransientError(f"HTTP {exc.code}", _seconds(after)) from None
            if exc.code in (401, 403):
                raise BackendError(f"openai endpoint {self.base_url} refused the key (HTTP {exc.code}): "
                                   "check SCENEGLOT_OPENAI_API_KEY / OPENAI_API_KEY") from None
            raise BackendError(f"openai endpoint {self.base_url}: HTTP {exc.code} {detail}") from None
        except TimeoutError as exc:
            raise TransientError(f"timed out after {self.timeout:g} s ({exc})") from None
        except (urllib.error.URLError, ConnectionError) as exc:
            raise TransientError(f"cannot connect ({getattr(exc, 'reason', exc)})") from None
        try:
            data = json.loads(raw)
            return data["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise BackendError(f"openai endpoint {self.base_url}: the reply is not a chat completion: "
                               f"{raw[:120]!r}") from None


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def parse_reply(content: str, ids: list[int]) -> tuple[dict[int, str] | None, str]:
    """The id -> translation map when the reply holds exactly `ids`; else (None, what is wrong)."""
    text = content.strip()
    if text.startswith("```"):  # some local models wrap JSON in a code fence despite the schema
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
        items = data["translations"]
        pairs = [(int(item["id"]), str(item["text"])) for item in items]
    except (ValueError, KeyError, TypeError):
        return None, "it was not JSON of the form {\"translations\": [{\"id\", \"text\"}]}"
    got = dict(pairs)
    if len(pairs) != len(ids) or set(got) != set(ids):
        missing = sorted(set(ids) - set(got))
        extra = sorted(set(got) - set(ids))
        return None, f"{len(pairs)} translations for {len(ids)} lines (missing ids {missing}, unexpected {extra})"
    return got, ""
