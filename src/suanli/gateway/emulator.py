"""``suanli emulate-engine``: an OpenAI-compatible server whose tokens are paced by the
performance model. It is an EMULATOR for tests and demos: it generates no text (each token
is the word ``tok``), it says so in every answer (``system_fingerprint``
``suanli-emulator``, ``owned_by`` ``suanli-emulator``, an ``x-suanli-emulator`` header), and
the gateway never counts its measurements as evidence about a seller's GPUs.

Pacing: the first token comes after the prefill time of the prompt
(:func:`suanli.perf.step_model.prefill`, prompt tokens counted as whitespace-separated
words), each further token one decode step later (:func:`~suanli.perf.step_model.decode_step`
with the number of calls in flight as the batch and the prompt plus half the output as the
context), both multiplied by ``slow``. Deadlines are absolute from the call's arrival, so
event-loop jitter does not accumulate.

Fault injection (at start-up, or at run time with ``POST /emulator/faults``): ``slow``
multiplies every time; ``fail_every`` answers every k-th call with 503 before any token;
``die_after_tokens`` drops the connection after that many tokens of a streamed answer.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from suanli.errors import InvalidRequest

FINGERPRINT = "suanli-emulator"
EMULATOR_HEADER = "x-suanli-emulator"
DEFAULT_MAX_TOKENS = 16


@dataclass(frozen=True, slots=True)
class Faults:
    """What to break: see the module docstring."""

    slow: float = 1.0
    fail_every: int = 0
    die_after_tokens: int | None = None

    def __post_init__(self) -> None:
        if not self.slow > 0:
            raise InvalidRequest(f"slow must be > 0, got {self.slow}", field="slow")
        if self.fail_every < 0:
            raise InvalidRequest("fail_every must be >= 0", field="fail_every")
        if self.die_after_tokens is not None and self.die_after_tokens < 0:
            raise InvalidRequest("die_after_tokens must be >= 0", field="die_after_tokens")


@dataclass(frozen=True, slots=True)
class Pacing:
    """The model and GPU whose step times pace the tokens."""

    model: str
    gpu: str
    tp: int = 1
    precision: str = "bf16"

    def ttft_ms(self, prompt_tokens: int) -> float:
        return _prefill_ms(self.model, self.gpu, self.tp, self.precision, _bucket(prompt_tokens))

    def tpot_ms(self, batch: int, context: int) -> float:
        return _decode_ms(
            self.model, self.gpu, self.tp, self.precision, _bucket(batch), _bucket(context)
        )


def _bucket(n: int) -> int:
    """``n`` rounded up to 2 significant binary digits (1, 2, 3, 4, 6, 8, 12, ...), so the
    step-model caches stay small while times stay within ~25 % of the exact count's."""
    n = max(1, n)
    top = 1 << (n.bit_length() - 1)
    half = top >> 1
    if n == top:
        return n
    return top + half if half and n <= top + half else top << 1


@lru_cache(maxsize=4096)
def _prefill_ms(model: str, gpu: str, tp: int, precision: str, prompt_tokens: int) -> float:
    from suanli.catalog.gpus import gpu as find_gpu
    from suanli.catalog.models import model as find_model
    from suanli.perf.step_model import prefill

    return prefill(
        find_model(model),
        find_gpu(gpu),
        prompt_tokens=prompt_tokens,
        tp=tp,
        precision=precision,  # type: ignore[arg-type]
    ).prefill_ms


@lru_cache(maxsize=4096)
def _decode_ms(model: str, gpu: str, tp: int, precision: str, batch: int, context: int) -> float:
    from suanli.catalog.gpus import gpu as find_gpu
    from suanli.catalog.models import model as find_model
    from suanli.perf.step_model import decode_step

    return decode_step(
        find_model(model),
        find_gpu(gpu),
        batch=batch,
        context=context,
        tp=tp,
        precision=precision,  # type: ignore[arg-type]
    ).step_ms


def count_prompt_tokens(body: dict[str, Any]) -> int:
    """The emulator's token count of a prompt: whitespace-separated words (at least 1)."""
    if "messages" in body:
        texts = []
        for message in body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        text = " ".join(texts)
    else:
        prompt = body.get("prompt", "")
        text = " ".join(map(str, prompt)) if isinstance(prompt, list) else str(prompt)
    return max(1, len(text.split()))


class Emulator:
    """The emulator's state: pacing, faults and the calls in flight."""

    def __init__(self, pacing: Pacing, faults: Faults | None = None) -> None:
        pacing.ttft_ms(1)  # fail at start-up on an unknown model/GPU or a bad tp
        self.pacing = pacing
        self.faults = faults or Faults()
        self.in_flight = 0
        self.calls = 0

    def label(self) -> str:
        return f"{self.pacing.model} on {self.pacing.gpu} x{self.pacing.tp} (emulated)"


def create_emulator(pacing: Pacing, faults: Faults | None = None) -> Starlette:
    """The emulator's ASGI app."""
    emu = Emulator(pacing, faults)
    headers = {EMULATOR_HEADER: emu.label()}

    async def models(request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "id": pacing.model,
                        "object": "model",
                        "created": 0,
                        "owned_by": FINGERPRINT,
                    }
                ],
            },
            headers=headers,
        )

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "emulator": emu.label()}, headers=headers)

    async def set_faults(request: Request) -> Response:
        body = await request.json()
        emu.faults = replace(
            emu.faults,
            **{k: body[k] for k in ("slow", "fail_every", "die_after_tokens") if k in body},
        )
        Faults.__post_init__(emu.faults)
        return JSONResponse(
            {
                "slow": emu.faults.slow,
                "fail_every": emu.faults.fail_every,
                "die_after_tokens": emu.faults.die_after_tokens,
            },
            headers=headers,
        )

    async def chat(request: Request) -> Response:
        return await _complete(request, emu, headers, chat=True)

    async def completions(request: Request) -> Response:
        return await _complete(request, emu, headers, chat=False)

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/emulator/faults", set_faults, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
        ]
    )


def _error(status: int, message: str, headers: dict[str, str]) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": "emulator_error", "code": status}},
        status_code=status,
        headers=headers,
    )


async def _complete(
    request: Request, emu: Emulator, headers: dict[str, str], *, chat: bool
) -> Response:
    arrived = time.monotonic()
    try:
        body = json.loads(await request.body())
    except ValueError:
        return _error(400, "body is not JSON", headers)
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object", headers)
    emu.calls += 1
    faults = emu.faults
    if faults.fail_every and emu.calls % faults.fail_every == 0:
        return _error(503, "injected failure (emulator)", headers)
    prompt_tokens = count_prompt_tokens(body)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    n_out = max(1, int(max_tokens))
    ttft_s = emu.pacing.ttft_ms(prompt_tokens) * faults.slow / 1e3
    call_id = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
    created = int(time.time())
    model = str(body.get("model") or emu.pacing.model)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": n_out,
        "total_tokens": prompt_tokens + n_out,
    }

    def tpot_s() -> float:
        step = emu.pacing.tpot_ms(max(1, emu.in_flight), prompt_tokens + n_out // 2)
        return step * faults.slow / 1e3

    if not body.get("stream"):
        emu.in_flight += 1
        try:
            await _sleep_until(arrived + ttft_s)
            deadline = arrived + ttft_s
            for _ in range(n_out - 1):
                deadline += tpot_s()
            await _sleep_until(deadline)
        finally:
            emu.in_flight -= 1
        text = " ".join(["tok"] * n_out)
        if chat:
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length",
            }
        else:
            choice = {"index": 0, "text": text, "finish_reason": "length", "logprobs": None}
        return JSONResponse(
            {
                "id": call_id,
                "object": "chat.completion" if chat else "text_completion",
                "created": created,
                "model": model,
                "system_fingerprint": FINGERPRINT,
                "choices": [choice],
                "usage": usage,
            },
            headers=headers,
        )

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    die_after = faults.die_after_tokens

    def chunk(delta: str | None, finish: str | None, first: bool = False) -> bytes:
        if chat:
            d: dict[str, Any] = {"role": "assistant", "content": delta or ""} if first else {}
            if delta is not None and not first:
                d["content"] = delta
            choice = {"index": 0, "delta": d, "finish_reason": finish, "logprobs": None}
            kind = "chat.completion.chunk"
        else:
            choice = {"index": 0, "text": delta or "", "finish_reason": finish, "logprobs": None}
            kind = "text_completion"
        doc = {
            "id": call_id,
            "object": kind,
            "created": created,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": [choice],
        }
        return b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"

    async def stream() -> Any:
        emu.in_flight += 1
        try:
            deadline = arrived + ttft_s
            for i in range(n_out):
                await _sleep_until(deadline)
                if die_after is not None and i >= die_after:
                    raise ConnectionAbortedError("injected death mid-stream (emulator)")
                yield chunk("tok" if i == 0 else " tok", None, first=(i == 0))
                deadline += tpot_s()
            yield chunk(None, "length")
            if include_usage:
                doc: dict[str, Any] = {
                    "id": call_id,
                    "object": "chat.completion.chunk" if chat else "text_completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": FINGERPRINT,
                    "choices": [],
                    "usage": usage,
                }
                yield b"data: " + json.dumps(doc, separators=(",", ":")).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
        finally:
            emu.in_flight -= 1

    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
