"""nats-py, the official Python client, against junction."""

import asyncio

import nats

from conftest import settle
import pytest
from nats.errors import NoRespondersError

pytestmark = pytest.mark.asyncio


async def test_publish_subscribe_with_wildcards(junction_url):
    nc = await nats.connect(junction_url)
    got = []
    sub = await nc.subscribe("sensors.*.temp")
    await nc.publish("sensors.kitchen.temp", b"21.5")
    await nc.publish("sensors.kitchen.humidity", b"40")
    await nc.flush()
    msg = await sub.next_msg(timeout=2)
    got.append((msg.subject, msg.data))
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.2)
    assert got == [("sensors.kitchen.temp", b"21.5")]
    await nc.close()


async def test_request_reply_and_headers(junction_url):
    nc = await nats.connect(junction_url)

    async def handler(msg):
        await msg.respond(b"pong:" + msg.data + b":" + msg.headers.get("X-Id", "").encode())

    await nc.subscribe("svc.ping", cb=handler)
    await settle(nc)
    reply = await nc.request("svc.ping", b"hi", timeout=2, headers={"X-Id": "42"})
    assert reply.data == b"pong:hi:42"
    await nc.close()


async def test_no_responders(junction_url):
    nc = await nats.connect(junction_url)
    with pytest.raises(NoRespondersError):
        await nc.request("nobody.here", b"?", timeout=2)
    await nc.close()


async def test_queue_group_shares_work(junction_url):
    nc = await nats.connect(junction_url)
    counts = {"a": 0, "b": 0}

    def member(name):
        async def cb(msg):
            counts[name] += 1

        return cb

    await nc.subscribe("jobs", queue="workers", cb=member("a"))
    await nc.subscribe("jobs", queue="workers", cb=member("b"))
    await settle(nc)
    for i in range(200):
        await nc.publish("jobs", str(i).encode())
    await nc.flush()
    await asyncio.sleep(0.3)
    assert counts["a"] + counts["b"] == 200
    assert counts["a"] > 20 and counts["b"] > 20
    await nc.close()


async def test_token_auth(junction_with_token):
    nc = await nats.connect(junction_with_token, token="s3cret")
    await nc.flush()
    await nc.close()
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(junction_with_token, token="wrong", allow_reconnect=False, max_reconnect_attempts=0)
