"""A fake OpenAI-compatible HTTP server on loopback, for driving the real ``openai`` client in tests.

Usage::

    async with FakeOpenAI() as server:
        server.configure("model-a", fail_times=1, fail_status=503)
        client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test")
        ...
        assert server.requests_for("model-a")[0].messages[-1]["content"] == "hi"

or take the ``openai_server`` pytest fixture, which yields a started server and stops it afterwards.

Behaviour is programmed per model name (see ``ModelBehaviour``); a model that was never configured gets
the default behaviour: a short fixed reply naming the model.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import math
import re
import struct
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from PIL import Image

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"
DEFAULT_EMBEDDING_DIMENSIONS = 64

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    model: str | None
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Return the chat messages of a chat-completions request (empty for other endpoints)."""
        messages = self.body.get("messages")
        return list(messages) if isinstance(messages, list) else []

    @property
    def stream(self) -> bool:
        """Return whether the client asked for a streamed reply."""
        return bool(self.body.get("stream"))


Reply = str | Callable[[RecordedRequest], str]


@dataclass
class ModelBehaviour:
    """How the server answers requests naming one model; counters are consumed as requests arrive."""

    reply: Reply | None = None
    latency_s: float = 0.0  # before the response headers
    chunk_delay_s: float = 0.0  # between streamed chunks
    chunk_chars: int = 4  # characters of reply per streamed chunk
    fail_times: int = 0  # the next N requests get ``fail_status``
    fail_status: int = 500
    error_message: str = "simulated failure"
    rate_limit_times: int = 0  # the next N requests get 429
    retry_after: str | None = "1"  # Retry-After header value on 429 (seconds or an HTTP date)
    hang: bool = False  # never answer (until the server stops); for client timeouts
    malformed_times: int = 0  # the next N requests get a 200 with a broken JSON body (or broken SSE data)
    malformed_for: Callable[[RecordedRequest], bool] | None = None  # per request: a broken body, or not
    disconnect_after_chunks: int | None = None  # streams drop the connection after this many content chunks
    status_for: Callable[[RecordedRequest], int | None] | None = None  # per-request error status, or None
    usage_prompt_tokens: int | None = None  # override the computed usage numbers
    usage_completion_tokens: int | None = None


def _approx_tokens(text: str) -> int:
    # Roughly four characters per token: good enough for usage numbers that tests compare to each other.
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _message_text(messages: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


def embed_text(text: str, dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> list[float]:
    """Return the fake server's deterministic unit vector for a text (a hashed bag of words)."""
    vector = [0.0] * dimensions
    words = _WORD.findall(text.lower())
    for word in words:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[index] += sign
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        # Texts without words still need a valid unit vector; give them all the same one.
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


class FakeOpenAI:
    """An aiohttp app serving /v1/chat/completions, /v1/embeddings, /v1/images/generations and /v1/models.

    The server runs its own event loop in a background thread, so the test's loop holds only the
    client's tasks (a test can assert that nothing was left pending) and a busy test cannot stall it.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.behaviours: dict[str, ModelBehaviour] = {}
        self.default = ModelBehaviour()
        self.active_requests = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """Return the URL to pass as an OpenAI client's base_url."""
        if self._thread is None:
            raise RuntimeError("the fake OpenAI server is not started")
        return f"http://{self.host}:{self.port}/v1"

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1/images/generations", self._images)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        # Cancelling the handler when the client goes away lets tests see (via active_requests) that a
        # timed-out client really closed its connection.
        runner = web.AppRunner(self._app(), handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = int(runner.addresses[0][1])
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    def start_sync(self) -> None:
        """Start the server thread and block until it listens (for synchronous tests)."""
        if self._thread is not None:
            raise RuntimeError("the fake OpenAI server is already started")
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the fake OpenAI server did not start")
        if self._startup_error is not None:
            self._thread.join(timeout=10)
            self._thread = None
            raise RuntimeError("the fake OpenAI server could not start") from self._startup_error

    def stop_sync(self) -> None:
        """Release hanging requests, stop the server and join its thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=30)
        self._thread = None
        self._loop = None

    async def start(self) -> None:
        """Start listening on a free port (or the port given)."""
        await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        """Release hanging requests and stop the server."""
        await asyncio.to_thread(self.stop_sync)

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ programming and inspection

    def configure(self, model: str, **changes: Any) -> ModelBehaviour:
        """Set (or update) the behaviour for one model name and return it for further tweaks."""
        behaviour = self.behaviours.setdefault(model, ModelBehaviour())
        for key, value in changes.items():
            if not hasattr(behaviour, key):
                raise TypeError(f"ModelBehaviour has no field {key!r}")
            setattr(behaviour, key, value)
        return behaviour

    def behaviour(self, model: str | None) -> ModelBehaviour:
        """Return the behaviour that applies to a model name."""
        if model is None:
            return self.default
        return self.behaviours.get(model, self.default)

    def requests_for(self, model: str, path: str | None = None) -> list[RecordedRequest]:
        """Return the recorded requests naming a model, optionally only those to one path."""
        return [r for r in self.requests if r.model == model and (path is None or r.path == path)]

    def reset(self) -> None:
        """Forget recorded requests and programmed behaviour."""
        self.requests.clear()
        self.behaviours.clear()
        self.default = ModelBehaviour()

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # aiohttp's json_response appends "; charset=utf-8"; some clients (and our tests) want the bare type.
        all_headers = {"Content-Type": JSON_TYPE, **(headers or {})}
        return web.Response(body=json.dumps(payload).encode("utf-8"), status=status, headers=all_headers)

    @staticmethod
    def _malformed() -> web.Response:
        body = b'{"id": "broken", "choices": ['
        return web.Response(body=body, status=200, headers={"Content-Type": JSON_TYPE})

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        kind = "server_error" if status >= 500 else "invalid_request"
        if status == 429:
            kind = "rate_limit_exceeded"
        payload = {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        return self._json(payload, status=status, headers=headers)

    async def _record(self, request: web.Request) -> RecordedRequest:
        body: dict[str, Any] = {}
        if request.method == "POST":
            try:
                parsed = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                parsed = {}
            body = parsed if isinstance(parsed, dict) else {}
        model = body.get("model")
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            model=model if isinstance(model, str) else None,
            body=body,
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        self.requests.append(recorded)
        return recorded

    async def _misbehave(self, behaviour: ModelBehaviour, recorded: RecordedRequest) -> web.Response | None:
        """Apply latency, hangs and programmed failures; return the response that replaces the normal one."""
        if behaviour.latency_s > 0:
            await asyncio.sleep(behaviour.latency_s)
        if behaviour.hang and self._stopping is not None:
            await self._stopping.wait()
            return self._error(503, "server stopping")
        if behaviour.rate_limit_times > 0:
            behaviour.rate_limit_times -= 1
            headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after is not None else {}
            return self._error(429, "rate limited", headers=headers)
        if behaviour.fail_times > 0:
            behaviour.fail_times -= 1
            return self._error(behaviour.fail_status, behaviour.error_message)
        if behaviour.status_for is not None:
            status = behaviour.status_for(recorded)
            if status is not None:
                return self._error(status, behaviour.error_message)
        return None

    def _reply_text(self, behaviour: ModelBehaviour, recorded: RecordedRequest) -> str:
        reply = behaviour.reply
        if reply is None:
            return f"Hello from {recorded.model}."
        return reply(recorded) if callable(reply) else reply

    async def _tracked(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.active_requests += 1
        try:
            return await handler(request)
        finally:
            self.active_requests -= 1

    # ------------------------------------------------------------ endpoints

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._tracked(request, self._chat_inner)

    async def _chat_inner(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        behaviour = self.behaviour(recorded.model)
        replaced = await self._misbehave(behaviour, recorded)
        if replaced is not None:
            return replaced
        malformed = behaviour.malformed_times > 0
        if malformed:
            behaviour.malformed_times -= 1
        elif behaviour.malformed_for is not None:
            malformed = behaviour.malformed_for(recorded)
        text = self._reply_text(behaviour, recorded)
        prompt_tokens = behaviour.usage_prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = _approx_tokens(_message_text(recorded.messages))
        completion_tokens = behaviour.usage_completion_tokens
        if completion_tokens is None:
            completion_tokens = _approx_tokens(text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if recorded.stream:
            return await self._stream_chat(request, recorded, behaviour, text, usage, malformed)
        if malformed:
            return self._malformed()
        return self._json(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": recorded.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage,
            }
        )

    async def _stream_chat(
        self,
        request: web.Request,
        recorded: RecordedRequest,
        behaviour: ModelBehaviour,
        text: str,
        usage: dict[str, int],
        malformed: bool,
    ) -> web.StreamResponse:
        headers = {"Content-Type": SSE_TYPE, "Cache-Control": "no-cache"}
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": recorded.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }

        async def send(payload: dict[str, Any]) -> None:
            await response.write(f"data: {json.dumps(payload)}\n\n".encode())

        if malformed:
            await response.write(b'data: {"id": "broken", "choices": [\n\n')
            await response.write_eof()
            return response

        await send(chunk({"role": "assistant", "content": ""}, None))
        step = max(1, behaviour.chunk_chars)
        pieces = [text[i : i + step] for i in range(0, len(text), step)]
        for sent, piece in enumerate(pieces):
            if behaviour.disconnect_after_chunks is not None and sent >= behaviour.disconnect_after_chunks:
                # Drop the socket without ending the chunked body, as a crashed upstream would.
                if request.transport is not None:
                    request.transport.close()
                return response
            if behaviour.chunk_delay_s > 0 and sent > 0:
                await asyncio.sleep(behaviour.chunk_delay_s)
            await send(chunk({"content": piece}, None))
        await send(chunk({}, "stop"))
        options = recorded.body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            final = chunk({}, None)
            final["choices"] = []
            final["usage"] = usage
            await send(final)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        return await self._tracked(request, self._embeddings_inner)

    async def _embeddings_inner(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        behaviour = self.behaviour(recorded.model)
        replaced = await self._misbehave(behaviour, recorded)
        if replaced is not None:
            return replaced
        if behaviour.malformed_times > 0:
            behaviour.malformed_times -= 1
            return self._malformed()
        raw_input = recorded.body.get("input")
        if isinstance(raw_input, str):
            texts = [raw_input]
        elif isinstance(raw_input, list) and raw_input and all(isinstance(x, int) for x in raw_input):
            texts = [" ".join(str(x) for x in raw_input)]  # one pre-tokenised input
        elif isinstance(raw_input, list):
            texts = [x if isinstance(x, str) else " ".join(str(t) for t in x) for x in raw_input]
        else:
            return self._error(400, "input must be a string or a list")
        dimensions = recorded.body.get("dimensions") or DEFAULT_EMBEDDING_DIMENSIONS
        if not isinstance(dimensions, int) or dimensions < 1:
            return self._error(400, "dimensions must be a positive integer")
        encoding = recorded.body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return self._error(400, "encoding_format must be 'float' or 'base64'")
        data: list[dict[str, Any]] = []
        for index, text in enumerate(texts):
            vector = embed_text(text, dimensions)
            embedding: Any = vector
            if encoding == "base64":
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(_approx_tokens(t) for t in texts)
        return self._json(
            {
                "object": "list",
                "data": data,
                "model": recorded.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _images(self, request: web.Request) -> web.StreamResponse:
        return await self._tracked(request, self._images_inner)

    async def _images_inner(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        behaviour = self.behaviour(recorded.model)
        replaced = await self._misbehave(behaviour, recorded)
        if replaced is not None:
            return replaced
        prompt = recorded.body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            return self._error(400, "prompt must be a non-empty string")
        size = str(recorded.body.get("size") or "1024x1024")
        match = re.fullmatch(r"(\d{2,4})x(\d{2,4})", size)
        if match is None:
            return self._error(400, "size must look like 1024x1024")
        n = recorded.body.get("n") or 1
        fmt = recorded.body.get("response_format") or "b64_json"
        if fmt != "b64_json":
            return self._error(400, "this fake answers response_format b64_json only")
        width, height = int(match.group(1)), int(match.group(2))
        # A solid picture whose colour is a hash of the prompt: tests can tell which prompt made it.
        rgb = tuple(hashlib.blake2b(prompt.encode("utf-8"), digest_size=3).digest())
        out = io.BytesIO()
        Image.new("RGB", (width, height), rgb).save(out, format="PNG")
        encoded = base64.b64encode(out.getvalue()).decode("ascii")
        data = [{"b64_json": encoded, "revised_prompt": prompt} for _ in range(int(n))]
        return self._json({"created": int(time.time()), "data": data})

    async def _models(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        names = sorted(self.behaviours) or ["fake-model"]
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "kindred-fake"} for name in names]
        return self._json({"object": "list", "data": data})


@pytest.fixture
async def openai_server() -> AsyncIterator[FakeOpenAI]:
    """Yield a started fake OpenAI-compatible server on loopback; stopped after the test."""
    async with FakeOpenAI() as server:
        yield server
