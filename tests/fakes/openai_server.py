"""A fake OpenAI-compatible server: what OpenAI, Ollama, LM Studio, vLLM and llama.cpp's
server answer on `/v1`, on the wire as they answer it.

- `POST /v1/chat/completions`: a `chat.completion`, or with `stream: true` server-sent
  events (`chat.completion.chunk`s in small pieces, sent chunked as they are written,
  the usage in a last chunk of its own when `stream_options.include_usage` is set,
  then `data: [DONE]`).
- `GET /v1/models`: the model list.
- Bearer keys checked as OpenAI checks them (its 401 body quotes part of a wrong key),
  an unknown model is OpenAI's 404 `model_not_found`, a prompt over the context is
  its 400 `context_length_exceeded`, an image (`image_url` parts, which must be data
  URLs here) sent to a model that cannot see is its 400.
- `fail(status, …)`: the next requests get 429s with Retry-After, 500s and the rest
  with OpenAI's error bodies; `say(…)`: what the model writes next (over-long text,
  bad hashtags, a reply not in JSON, nothing at all); otherwise it writes
  `{"candidates": [...]}` with as many short texts or tags as the prompt asks for.

Every request is kept (`requests`), with the moment it arrived.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

INVALID_KEY = "invalid_api_key"
ERRORS: dict[int, dict[str, Any]] = {
    429: {
        "message": (
            "Rate limit reached for gpt-4o in organization org-fake on requests per min "
            "(RPM): Limit 3, Used 3, Requested 1. Please try again in 1s."
        ),
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    503: {
        "message": "The engine is currently overloaded, please try again later.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}
DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=]+)$")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any
    at: float  # time.time() when the request arrived

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    def text(self) -> str:
        """Every text part of every message, one after the other."""
        return "\n".join(_texts(self.messages))


@dataclass
class Fault:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    found = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            found.append(content)
        elif isinstance(content, list):
            found += [p.get("text", "") for p in content if p.get("type") == "text"]
    return found


def candidates(*texts: str) -> str:
    """What a model following the prompt writes."""
    return json.dumps({"candidates": list(texts)}, ensure_ascii=False)


class FakeOpenAI:
    def __init__(
        self,
        *,
        key: str | None = "sk-test-0123456789abcdefXYZ",
        models: tuple[str, ...] = ("gpt-4o", "gpt-4o-mini", "llama3.2", "llava"),
        vision: tuple[str, ...] = ("gpt-4o", "llava"),
        context_tokens: int = 128_000,
    ) -> None:
        self.key = key
        self.models = list(models)
        self.vision = set(vision)
        self.context_tokens = context_tokens
        self.said: deque[str] = deque()
        self.faults: deque[Fault] = deque()
        self.requests: list[Seen] = []
        self.images: list[tuple[str, bytes]] = []  # (mime type, bytes) of each image seen
        self.piece = 6  # characters per streamed chunk
        self.pause = 0.0  # seconds between streamed chunks
        self.latency = 0.0  # seconds the model "thinks" before it answers
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- scripting ------------------------------------------------------------------

    def say(self, *contents: str) -> None:
        """What the model writes in its next replies, in order."""
        with self.lock:
            self.said.extend(contents)

    def fail(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next `times` completions get this answer (OpenAI's error body by default)."""
        error = {"error": ERRORS.get(status, {"message": f"error {status}", "type": "error"})}
        with self.lock:
            for _ in range(times):
                self.faults.append(
                    Fault(status, error if body is None else body, headers or {}, delay)
                )

    def completions(self) -> list[Seen]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    # -- answers --------------------------------------------------------------------

    def _refusal(self, request: Seen) -> tuple[int, Any] | None:
        if self.key is None:
            return None
        given = request.headers.get("authorization", "")
        if not given.lower().startswith("bearer "):
            return 401, {
                "error": {
                    "message": "You didn't provide an API key. You need to provide your API key "
                    "in an Authorization header using Bearer auth (i.e. Authorization: Bearer "
                    "YOUR_KEY).",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }
        key = given[7:]
        if key != self.key:
            shown = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}"
            return 401, {
                "error": {
                    "message": f"Incorrect API key provided: {shown}. You can find your API "
                    "key at https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": INVALID_KEY,
                }
            }
        return None

    def _invalid(self, request: Seen) -> tuple[int, Any] | None:
        body = request.body
        model = body.get("model") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return 400, _error("'messages' is a required property", "invalid_request_error")
        if model not in self.models:
            return 404, {
                "error": {
                    "message": f"The model `{model}` does not exist or you do not have access to it.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "model_not_found",
                }
            }
        for message in body["messages"]:
            content = message.get("content")
            for part in content if isinstance(content, list) else []:
                if part.get("type") != "image_url":
                    continue
                if model not in self.vision:
                    return 400, _error(
                        "Invalid content type. image_url is only supported by certain models.",
                        "invalid_request_error",
                        param="messages.[1].content.[1].type",
                    )
                match = DATA_URL.match(part.get("image_url", {}).get("url", ""))
                if not match:
                    return 400, _error("Invalid image URL.", "invalid_request_error")
                try:
                    data = base64.b64decode(match.group(2), validate=True)
                except binascii.Error:
                    return 400, _error("Invalid base64 image data.", "invalid_request_error")
                with self.lock:
                    self.images.append((match.group(1), data))
        tokens = _tokens(request.text())
        if tokens > self.context_tokens:
            return 400, {
                "error": {
                    "message": f"This model's maximum context length is {self.context_tokens} "
                    f"tokens. However, your messages resulted in {tokens} tokens. Please "
                    "reduce the length of the messages.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            }
        return None

    def _content(self, request: Seen) -> str:
        with self.lock:
            if self.said:
                return self.said.popleft()
        return default_reply(request)

    # -- serving --------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *_args: Any) -> None:
                pass

            def _seen(self, body: Any) -> Seen:
                seen = Seen(
                    self.command,
                    self.path.split("?", 1)[0],
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.time(),
                )
                with fake.lock:
                    fake.requests.append(seen)
                return seen

            def _send(
                self, status: int, payload: Any, headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_GET(self) -> None:
                request = self._seen(None)
                refusal = fake._refusal(request)
                if refusal:
                    self._send(*refusal)
                elif request.path == "/v1/models":
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {
                                    "id": m,
                                    "object": "model",
                                    "created": 1700000000,
                                    "owned_by": "fake",
                                }
                                for m in fake.models
                            ],
                        },
                    )
                else:
                    self._send(
                        404, _error(f"Invalid URL (GET {request.path})", "invalid_request_error")
                    )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                request = self._seen(body)
                if request.path != "/v1/chat/completions":
                    self._send(
                        404, _error(f"Invalid URL (POST {request.path})", "invalid_request_error")
                    )
                    return
                problem = fake._refusal(request) or fake._invalid(request)
                if problem:
                    self._send(*problem)
                    return
                with fake.lock:
                    fault = fake.faults.popleft() if fake.faults else None
                if fault is not None:
                    time.sleep(fault.delay)
                    self._send(fault.status, fault.body, fault.headers)
                    return
                content = fake._content(request)
                time.sleep(fake.latency)
                if body.get("stream"):
                    self._stream(request, content)
                else:
                    self._send(200, _completion(request, content))

            def _stream(self, request: Seen, content: str) -> None:
                body = request.body
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                base = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body["model"],
                    "system_fingerprint": "fp_fake",
                }

                def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                    event = {
                        **base,
                        "choices": [
                            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                        ],
                    }
                    if usage:
                        event["usage"] = None
                    return event

                events = [chunk({"role": "assistant", "content": "", "refusal": None})]
                events += [
                    chunk({"content": content[i : i + fake.piece]})
                    for i in range(0, len(content), fake.piece)
                ]
                events.append(chunk({}, "stop"))
                if usage:
                    events.append({**base, "choices": [], "usage": _usage(request, content)})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                    self.send_header("Cache-Control", "no-cache")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for event in events:
                        self._chunk(f"data: {json.dumps(event)}\n\n")
                        if fake.pause:
                            time.sleep(fake.pause)
                    self._chunk("data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _chunk(self, text: str) -> None:
                data = text.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _error(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


def _tokens(text: str) -> int:
    """About four characters a token, as OpenAI's rule of thumb has it."""
    return len(text) // 4 + 1


def _usage(request: Seen, content: str) -> dict[str, int]:
    prompt, completion = _tokens(request.text()), _tokens(content)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(request: Seen, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.body["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(request, content),
        "system_fingerprint": "fp_fake",
    }


def default_reply(request: Seen) -> str:
    """What a model that follows the prompt writes: as many candidates as asked for
    ("holding N strings"), short texts, or tags when hashtags are asked for."""
    text = request.text()
    match = re.search(r"holding (\d+) strings", text)
    count = int(match.group(1)) if match else 3
    last = _texts(request.messages[-1:])[0] if request.messages else ""
    if re.search(r"Suggest \d+ hashtags", last):
        return candidates(*(f"#Topic{n}" for n in range(1, count + 1)))
    return candidates(*(f"Candidate {n}: fresh words for you." for n in range(1, count + 1)))
