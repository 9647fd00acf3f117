"""nats-py's JetStream, key-value and object-store APIs against junction -js."""

import asyncio
import os
import tempfile

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from conftest import free_port, start_junction


@pytest.fixture(params=["flags", "flags-and-file"])
def js_url(request):
    """JetStream from `-js -sd DIR`, alone or over a configuration file
    without a jetstream {} block (`-js -sd DIR -c file.conf`; the file's
    mqtt {} block needs the flags' JetStream)."""
    store = tempfile.mkdtemp(prefix="junction-js-")
    args = ["-js", "-sd", store]
    if request.param == "flags-and-file":
        conf = os.path.join(store, "server.conf")
        with open(conf, "w") as f:
            f.write(f'server_name: js-flags\nmqtt {{ listen: "127.0.0.1:{free_port()}" }}\n')
        args += ["-c", conf]
    proc, url = start_junction(*args)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.asyncio
async def test_streams_publish_and_pull_consumers(js_url):
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="ORDERS", subjects=["orders.*"]))
    for i in range(10):
        ack = await js.publish("orders.new", f"order {i}".encode())
        assert ack.stream == "ORDERS" and ack.seq == i + 1
    dup = await js.publish("orders.new", b"x", headers={"Nats-Msg-Id": "one"})
    again = await js.publish("orders.new", b"x", headers={"Nats-Msg-Id": "one"})
    assert again.duplicate and again.seq == dup.seq
    info = await js.stream_info("ORDERS")
    assert info.state.messages == 11
    msg = await js.get_msg("ORDERS", 3)
    assert msg.data == b"order 2"

    sub = await js.pull_subscribe("orders.*", "worker", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    got = []
    while len(got) < 11:
        for m in await sub.fetch(5, timeout=2):
            got.append(m.data)
            await m.ack()
    assert got[0] == b"order 0" and len(got) == 11
    with pytest.raises(nats.errors.TimeoutError):
        await sub.fetch(1, timeout=0.5)
    cinfo = await js.consumer_info("ORDERS", "worker")
    assert cinfo.num_pending == 0

    with pytest.raises(BadRequestError):
        await js.add_stream(StreamConfig(name="OTHER", subjects=["orders.new"]))
    with pytest.raises(NotFoundError):
        await js.stream_info("MISSING")
    await js.delete_stream("ORDERS")
    await nc.close()


@pytest.mark.asyncio
async def test_push_subscription_and_key_value(js_url):
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="EVENTS", subjects=["events.>"]))
    received = []
    done = asyncio.Event()

    async def handler(msg):
        received.append(msg.data)
        await msg.ack()
        if len(received) == 5:
            done.set()

    await js.subscribe("events.>", cb=handler, durable="pushy")
    for i in range(5):
        await js.publish(f"events.{i}", str(i).encode())
    await asyncio.wait_for(done.wait(), 5)
    assert received == [b"0", b"1", b"2", b"3", b"4"]

    kv = await js.create_key_value(bucket="profiles", history=3)
    rev = await kv.put("alice", b"v1")
    await kv.update("alice", b"v2", last=rev)
    entry = await kv.get("alice")
    assert entry.value == b"v2"
    await kv.put("bob", b"b1")
    await kv.delete("bob")
    assert sorted(await kv.keys()) == ["alice"]
    history = await kv.history("alice")
    assert [e.value for e in history] == [b"v1", b"v2"]
    await nc.close()


@pytest.mark.asyncio
async def test_object_store(js_url):
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    obs = await js.create_object_store("blobs")
    data = bytes(range(256)) * 8192  # 2 MiB
    info = await obs.put("blob.bin", data)
    assert info.size == len(data)
    result = await obs.get("blob.bin")
    assert result.data == data
    listed = await obs.list()
    assert [o.name for o in listed] == ["blob.bin"]
    await nc.close()


@pytest.mark.asyncio
async def test_confirmed_acks_survive_kill_9():
    """Acks confirmed with ack_sync are written before their confirmation:
    a kill -9 a quarter of a second later loses none of them, and the
    unacknowledged messages are still there."""
    store = tempfile.mkdtemp(prefix="junction-js-")
    proc, url = start_junction("-js", "-sd", store)
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="ACKS", subjects=["acks"]))
    for i in range(10):
        await js.publish("acks", f"{i + 1}".encode())
    sub = await js.pull_subscribe("acks", "worker", config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
    for m in await sub.fetch(10, timeout=5):
        await m.ack_sync()
    for i in range(10, 60):
        await js.publish("acks", f"{i + 1}".encode())
    await asyncio.sleep(0.25)
    proc.kill()
    proc.wait(timeout=10)
    await nc.close()

    proc, url = start_junction("-js", "-sd", store)
    try:
        nc = await nats.connect(url)
        js = nc.jetstream()
        sub = await js.pull_subscribe("acks", "worker")
        first = (await sub.fetch(1, timeout=5))[0]
        assert first.data == b"11", first.data
        info = await js.consumer_info("ACKS", "worker")
        assert info.num_pending == 49 and info.ack_floor.stream_seq == 10
        await nc.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.asyncio
async def test_key_value_purge_of_a_wildcard_and_work_queue_consumers(js_url):
    nc = await nats.connect(js_url)
    js = nc.jetstream()
    kv = await js.create_key_value(bucket="purged", history=5)
    for key in ("hello.a", "hello.b", "hello.a", "other"):
        await kv.put(key, b"v")
    await kv.purge("hello.*")
    assert sorted(await kv.keys()) == ["other"]
    info = await js.stream_info("KV_purged", subjects_filter=">")
    assert info.state.subjects == {"$KV.purged.hello.*": 1, "$KV.purged.other": 1}

    # A work queue hands each message to one consumer: overlapping ones are refused.
    await js.add_stream(StreamConfig(name="JOBS", subjects=["jobs.>"], retention="workqueue"))
    await js.add_consumer("JOBS", ConsumerConfig(durable_name="a", filter_subject="jobs.a", ack_policy=AckPolicy.EXPLICIT))
    with pytest.raises(BadRequestError) as overlap:
        await js.add_consumer("JOBS", ConsumerConfig(durable_name="all", filter_subject="jobs.*", ack_policy=AckPolicy.EXPLICIT))
    assert overlap.value.err_code == 10100
    with pytest.raises(BadRequestError) as unfiltered:
        await js.add_consumer("JOBS", ConsumerConfig(durable_name="any", ack_policy=AckPolicy.EXPLICIT))
    assert unfiltered.value.err_code == 10099
    await nc.close()
