"""The gateway through the official ``openai`` client, with emulated replicas at two sites."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest

from tests.gateway.conftest import FAR, MODEL, NEAR, Served

pytestmark = pytest.mark.slow


def _client(served: Served, who: str = "buyer", region: str | None = "Shanghai") -> openai.OpenAI:
    headers = {"X-Suanli-Region": region} if region else {}
    return openai.OpenAI(
        base_url=served.base_url, api_key=served.keys[who], default_headers=headers, max_retries=0
    )


def test_models_lists_the_buyers_leased_model(served: Served) -> None:
    assert [m.id for m in _client(served).models.list()] == [MODEL]


def test_chat_and_completions_answer_streamed_and_not(served: Served) -> None:
    client = _client(served)
    chat = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello there"}], max_tokens=5
    )
    assert chat.choices[0].message.content == "tok tok tok tok tok"
    assert chat.usage is not None and chat.usage.completion_tokens == 5

    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "hello there"}],
        max_tokens=4,
        stream=True,
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces) == "tok tok tok tok"

    text = client.completions.create(model=MODEL, prompt="one two three", max_tokens=3)
    assert text.choices[0].text == "tok tok tok"
    streamed = client.completions.create(
        model=MODEL,
        prompt="one two three",
        max_tokens=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(streamed)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "tok tok tok"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 3

    calls = served.gateway.calls
    assert len(calls) == 4
    assert [c.streamed for c in calls] == [False, True, False, True]
    assert [c.output_tokens for c in calls] == [5, 4, 3, 3]
    assert all(c.emulated and not c.failed for c in calls)
    assert all(c.ttft_ms > 0 and c.e2e_ms >= c.ttft_ms for c in calls)


def test_unknown_model_and_bad_key_are_openai_errors(served: Served) -> None:
    with pytest.raises(openai.NotFoundError):
        _client(served).chat.completions.create(
            model="Llama-3-8B", messages=[{"role": "user", "content": "x"}]
        )
    bad = openai.OpenAI(base_url=served.base_url, api_key="sk_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()
    seller = openai.OpenAI(base_url=served.base_url, api_key=served.keys["seller"], max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        seller.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])


def test_calls_go_to_the_replica_nearest_the_caller(served: Served) -> None:
    near_id, far_id = (
        {r.replica.lease_id: r.replica.id for r in served.gateway.pool.states.values()}[
            served.leases[site]
        ]
        for site in (NEAR, FAR)
    )
    for who, region, expected in (
        ("buyer", "Shanghai", near_id),
        ("buyer", "Xi'an", far_id),
        ("buyer_sh", None, near_id),  # no header: the key's default region (Shanghai)
    ):
        client = _client(served, who, region)
        for _ in range(6):
            raw = client.chat.completions.with_raw_response.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2
            )
            assert raw.headers["x-suanli-replica"] == str(expected), (who, region)
    regions = [c.region for c in served.gateway.calls]
    assert regions == ["Shanghai"] * 6 + ["Xi'an"] * 6 + ["Shanghai"] * 6


def test_a_replica_dying_mid_load_loses_no_call_that_had_not_started_streaming(
    served: Served,
) -> None:
    """40 streamed calls from Shanghai, slowed so they overlap; the near replica is killed
    (SIGKILL) while they run. Every call that had not received a token must complete on
    the far replica; only calls already streaming from the dead replica may fail."""
    near = served.emulators[NEAR]
    for emu in served.emulators.values():
        httpx.post(emu.url + "/emulator/faults", json={"slow": 6.0}).raise_for_status()
    client = _client(served)
    outcomes: list[tuple[bool, int, str]] = []  # (completed, tokens received, error)
    lock = threading.Lock()

    def one_call(words: int) -> None:
        tokens = 0
        try:
            stream = client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "word " * words}],
                max_tokens=12,
                stream=True,
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    tokens += 1
            with lock:
                outcomes.append((tokens == 12, tokens, ""))
        except Exception as exc:  # the dropped connection of a call already streaming
            with lock:
                outcomes.append((False, tokens, type(exc).__name__))

    # every third call has a long prompt: still in prefill (no token yet) when the kill comes
    threads = [
        threading.Thread(target=one_call, args=(6000 if i % 3 == 0 else 200,)) for i in range(40)
    ]
    for i, t in enumerate(threads):
        t.start()
        if i == 20:
            time.sleep(0.3)
            near.kill()  # half the calls are in flight, half not yet sent
        time.sleep(0.02)
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == 40
    lost_before_streaming = [o for o in outcomes if not o[0] and o[1] == 0]
    assert lost_before_streaming == []
    assert sum(1 for o in outcomes if o[0]) >= 20
    # the gateway saw the failures and routed the rest to the far replica
    calls = served.gateway.calls
    far_lease = served.leases[FAR]
    near_lease = served.leases[NEAR]
    assert any(c.failed and c.lease_id == near_lease and c.output_tokens > 0 for c in calls)
    # calls that were on the near replica, but before their first token, were retried
    assert any(c.failed and c.lease_id == near_lease and c.output_tokens == 0 for c in calls)
    completed_far = [c for c in calls if c.lease_id == far_lease and not c.failed]
    assert len(completed_far) >= 1


def test_the_gateway_also_runs_inside_the_exchange(served: Served) -> None:
    """`suanli serve --gateway`: the same API under /gateway/v1 of the exchange's app."""
    from suanli.app import create_app
    from suanli.bench.serving import ThreadServer

    exchange = ThreadServer(create_app(served.db_url, gateway=True)).start()
    try:
        client = openai.OpenAI(
            base_url=exchange.url + "/gateway/v1",
            api_key=served.keys["buyer_sh"],
            max_retries=0,
        )
        reply = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=3
        )
        assert reply.choices[0].message.content == "tok tok tok"
        assert httpx.get(exchange.url + "/healthz").status_code == 200
    finally:
        exchange.stop()
