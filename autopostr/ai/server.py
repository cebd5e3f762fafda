"""The AI server: OpenAI, or any OpenAI-compatible one (Ollama, LM Studio, vLLM,
llama.cpp's server), spoken to through the `openai` client.

`openai` takes about half a second to import, so it is imported here, when a
request is about to go, and by nothing else: no other command pays for it. The
client's own retries are off; ours are one retry after a 429, a 5xx, a timeout or
a lost connection, waiting what the server's Retry-After asks. Every failure
becomes one of autopostr's errors whose message never holds the key.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from autopostr.config import Settings
from autopostr.errors import AutopostrError, ConfigError, ExternalServiceError, InvalidInput

OPENAI_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o"
DEFAULT_TIMEOUT = 60.0
RETRY_WAIT = 1.0  # seconds before the one retry when the server does not say
LONGEST_WAIT = 60.0  # a Retry-After longer than this is reported, not waited for
MODELS_TIMEOUT = 5.0

NO_SERVER = (
    "no AI server is configured: set OPENAI_API_KEY (or AUTOPOSTR_AI_API_KEY) to use "
    "OpenAI, or AUTOPOSTR_AI_BASE_URL to use a local server such as Ollama "
    "(http://localhost:11434/v1)"
)

Message = dict[str, Any]
# Called with the reply's text so far as it streams in ("" when an attempt starts over).
OnText = Callable[[str], None]


@dataclass(frozen=True)
class Server:
    """Where requests go and with what; `key` never appears in a repr or a message."""

    base_url: str
    model: str
    timeout: float
    key: str | None = field(default=None, repr=False)
    key_from: str = ""  # "env OPENAI_API_KEY", "env AUTOPOSTR_AI_API_KEY", "file …"

    @property
    def chat_url(self) -> str:
        return f"{self.base_url}/chat/completions"


def model_for(settings: Settings, model: str | None = None) -> str:
    return (model or settings.get("ai_model") or DEFAULT_MODEL).strip()


def server_for(
    settings: Settings, model: str | None = None, environ: Mapping[str, str] | None = None
) -> Server:
    """The configured server, or exit 5 naming both ways to configure one."""
    env = os.environ if environ is None else environ
    key, key_from = settings.get("ai_api_key"), settings.source("ai_api_key")
    if not key:
        key, key_from = env.get("OPENAI_API_KEY") or None, "env OPENAI_API_KEY"
    base_url = (settings.get("ai_base_url") or "").strip().rstrip("/")
    if not key and not base_url:
        raise ConfigError(NO_SERVER)
    chosen = model_for(settings, model)
    if not chosen:
        raise InvalidInput("--model: name a model, e.g. gpt-4o or llama3.2")
    return Server(
        base_url=base_url or OPENAI_URL,
        model=chosen,
        timeout=settings.seconds("ai_timeout", DEFAULT_TIMEOUT, above=0),
        key=key.strip() if key else None,
        key_from=key_from if key else "",
    )


@dataclass
class Reply:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Client:
    """Chat completions on one server, streamed when someone watches (`on_text`)."""

    def __init__(self, server: Server, *, sleep: Callable[[float], None] = time.sleep) -> None:
        import openai

        self.server = server
        # Typed loosely: the messages are built as plain dicts, as the wire format has them.
        self._openai: Any = openai
        self._sleep = sleep
        # The client refuses to start without a key; a server that asks for none gets no
        # Authorization header at all (see `_headers`).
        self._client: Any = openai.OpenAI(
            api_key=server.key or "none",
            base_url=server.base_url,
            max_retries=0,
            timeout=server.timeout,
        )

    def _headers(self) -> dict[str, Any]:
        return {} if self.server.key else {"Authorization": self._openai.Omit()}

    def complete(
        self, messages: Sequence[Message], on_text: OnText | None = None, *, vision: bool = False
    ) -> Reply:
        """One answer; a 429, 5xx, timeout or lost connection is tried once more."""
        for attempt in (1, 2):
            try:
                if on_text is None:
                    return self._plain(messages)
                on_text("")
                return self._streamed(messages, on_text)
            except self._openai.APIError as exc:
                error, wait = self._failure(exc, vision)
                if wait is None or attempt == 2:
                    raise error from None
                self._sleep(wait)
        raise AssertionError("unreachable")

    def _plain(self, messages: Sequence[Message]) -> Reply:
        response = self._client.chat.completions.create(
            model=self.server.model,
            messages=list(messages),
            extra_headers=self._headers(),
        )
        text = (response.choices[0].message.content or "") if response.choices else ""
        usage = response.usage
        return Reply(
            text,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
        )

    def _streamed(self, messages: Sequence[Message], on_text: OnText) -> Reply:
        stream = self._client.chat.completions.create(
            model=self.server.model,
            messages=list(messages),
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=self._headers(),
        )
        parts: list[str] = []
        reply = Reply("")
        with stream:
            for chunk in stream:
                if chunk.usage is not None:  # the last chunk, with include_usage
                    reply.prompt_tokens = chunk.usage.prompt_tokens or 0
                    reply.completion_tokens = chunk.usage.completion_tokens or 0
                for choice in chunk.choices or ():
                    if choice.delta and choice.delta.content:
                        parts.append(choice.delta.content)
                        on_text("".join(parts))
        reply.text = "".join(parts)
        return reply

    # -- failures ----------------------------------------------------------------

    def _failure(self, exc: Exception, vision: bool) -> tuple[AutopostrError, float | None]:
        """The error to end with, and how long to wait before the one retry (None: none)."""
        openai = self._openai
        server = self.server
        if isinstance(exc, openai.APITimeoutError):
            return (
                ExternalServiceError(
                    f"the AI server at {server.base_url} did not answer within "
                    f"{server.timeout:g} s (AUTOPOSTR_AI_TIMEOUT)"
                ),
                RETRY_WAIT,
            )
        if isinstance(exc, openai.APIConnectionError):
            return (
                ExternalServiceError(
                    f"cannot reach the AI server at {server.base_url}: {_reason(exc)}; "
                    "check AUTOPOSTR_AI_BASE_URL and that the server is running"
                ),
                RETRY_WAIT,
            )
        if not isinstance(exc, openai.APIStatusError):
            # An error inside a stream, or an answer that is not a chat completion.
            return (
                ExternalServiceError(f"the AI server failed: {self.scrub(_message(exc))}"),
                RETRY_WAIT,
            )
        status, said = exc.status_code, self.scrub(_message(exc))
        code = (exc.code or "").lower()
        if status == 401:
            if not server.key:
                return ExternalServiceError(
                    f"the AI server at {server.base_url} asks for a key: set "
                    "AUTOPOSTR_AI_API_KEY (or OPENAI_API_KEY)"
                ), None
            return ExternalServiceError(
                f"the AI server refused the key (from {server.key_from}): check it, or set "
                "another with AUTOPOSTR_AI_API_KEY"
            ), None
        if status == 404:
            if code == "model_not_found" or "model" in said.lower():
                return ExternalServiceError(self._unknown_model()), None
            return ExternalServiceError(
                f"the AI server has no {server.chat_url} (404): check AUTOPOSTR_AI_BASE_URL, "
                "which usually ends in /v1"
            ), None
        if status == 429 and code != "insufficient_quota":
            wait = retry_after(exc.response.headers)
            if wait is not None and wait > LONGEST_WAIT:
                return ExternalServiceError(
                    f"the AI server is busy (429): {said}; try again in {wait:.0f} s"
                ), None
            return ExternalServiceError(f"the AI server is busy (429): {said}"), (
                RETRY_WAIT if wait is None else wait
            )
        if status >= 500:
            wait = retry_after(exc.response.headers)
            if wait is not None and wait > LONGEST_WAIT:
                wait = None
            return ExternalServiceError(f"the AI server failed ({status}): {said}"), (
                RETRY_WAIT if wait is None else wait
            )
        if status in (400, 413, 422):
            if code == "context_length_exceeded" or _says_too_long(said):
                return InvalidInput(
                    f"the text is too long for {server.model}: {said}. Shorten it, or choose a "
                    "model with a longer context with --model"
                ), None
            if vision and _says_cannot_see(said):
                return InvalidInput(
                    f"{server.model} cannot see images ({said}): choose a vision model with "
                    "--model, e.g. gpt-4o, or llava on Ollama"
                ), None
        return ExternalServiceError(f"the AI server refused the request ({status}): {said}"), None

    def _unknown_model(self) -> str:
        """Name the model and how to list the server's models, listing them when it can."""
        server = self.server
        start = f"the AI server has no model {server.model!r}"
        pick = "choose one with --model or AUTOPOSTR_AI_MODEL"
        try:
            names = [
                m.id
                for m in self._client.models.list(
                    timeout=MODELS_TIMEOUT, extra_headers=self._headers()
                )
            ]
        except self._openai.OpenAIError:
            names = []
        if names:
            shown = ", ".join(sorted(names)[:20]) + (" …" if len(names) > 20 else "")
            return f"{start}; it has {shown}: {pick}"
        return f"{start}: list its models with `curl {server.base_url}/models`, then {pick}"

    def scrub(self, text: str) -> str:
        """Server messages may quote the key (OpenAI quotes part of it): never shown."""
        if self.server.key:
            text = text.replace(self.server.key, "****")
        return _KEY_LIKE.sub("****", text)


_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*]{4,}")


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        text = body.get("message") or body.get("error") or body.get("detail") or ""
    elif isinstance(body, str):
        text = body
    else:
        text = ""
    text = str(text).strip() or str(getattr(exc, "message", "") or exc)
    line = " ".join(text.split())
    return line[:300] + ("…" if len(line) > 300 else "")


def _reason(exc: BaseException) -> str:
    """What the connection error underneath says (refused, unknown host …)."""
    lines = str(exc.__cause__ or exc.__context__ or exc).strip().splitlines()
    return lines[0] if lines else "no answer"


def _says_too_long(message: str) -> bool:
    lowered = message.lower()
    return any(
        phrase in lowered
        for phrase in ("context length", "context_length", "maximum context", "too many tokens")
    )


def _says_cannot_see(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in ("image", "vision", "multimodal"))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait: `retry-after-ms` (OpenAI's), else `Retry-After`
    in seconds or as an HTTP date."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(0.0, float(raw_ms) / 1000)
        except ValueError:
            pass
    raw = (headers.get("retry-after") or "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
