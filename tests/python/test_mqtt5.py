"""MQTT 5 with paho-mqtt v5 clients, checked against what mosquitto does:
the properties a server forwards on every path, No Local at every QoS,
session lifetime, message expiry while queued, requests to NATS services
at QoS 1 and 2, and the Receive Maximum the server announces."""

import asyncio
import queue
import time

import nats
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from conftest import paho, settle, subscribe

V5 = mqtt.MQTTv5


def props(kind=PacketTypes.PUBLISH, **values):
    p = Properties(kind)
    for k, v in values.items():
        setattr(p, k, v)
    return p


def forwarded(expiry=60, user=(("k", "v"), ("k", "w"))):
    """Every PUBLISH property a server forwards (the topic alias aside)."""
    return props(
        PayloadFormatIndicator=1,
        ContentType="text/plain",
        ResponseTopic="replies/here",
        CorrelationData=b"corr",
        UserProperty=list(user),
        MessageExpiryInterval=expiry,
    )


def v5(port, client_id, clean=True, expiry=None, **kw):
    """A paho MQTT 5 client; `expiry` is its CONNECT Session Expiry Interval
    (none sent when None)."""
    connect = props(PacketTypes.CONNECT, SessionExpiryInterval=expiry) if expiry is not None else None
    return paho(port, client_id, version=V5, clean=clean, properties=connect, **kw)


def sub_id(n):
    return props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=n)


def get(c, timeout=10):
    return c.inbox.get(timeout=timeout)


def nothing_more(c, wait=1.0):
    try:
        extra = c.inbox.get(timeout=wait)
    except queue.Empty:
        return
    raise AssertionError(f"unexpected message on {extra.topic}: {extra.payload!r}")


def close(*clients):
    for c in clients:
        c.disconnect()
        c.loop_stop()


def session_present(c):
    return c.connack[0].session_present


def assert_forwarded(msg, ident=None, max_expiry=60, user=(("k", "v"), ("k", "w")), response=True):
    p = msg.properties
    assert p.PayloadFormatIndicator == 1
    assert p.ContentType == "text/plain"
    assert p.CorrelationData == b"corr"
    assert p.UserProperty == list(user)
    assert 0 < p.MessageExpiryInterval <= max_expiry, p.MessageExpiryInterval
    if response:
        assert p.ResponseTopic == "replies/here"
    if ident is not None:
        assert p.SubscriptionIdentifier == [ident]


def test_properties_reach_live_subscribers_at_every_qos(broker):
    _, port = broker
    sub = v5(port, "props-sub")
    subscribe(sub, "props/live", qos=2, properties=sub_id(7))
    pub = v5(port, "props-pub")
    for qos in (0, 1, 2):
        pub.publish("props/live", f"q{qos}", qos=qos, properties=forwarded()).wait_for_publish(timeout=10)
        msg = get(sub)
        assert (msg.payload, msg.qos) == (f"q{qos}".encode(), qos)
        assert_forwarded(msg, ident=7)
    close(sub, pub)


def test_retained_messages_keep_their_properties_and_count_down_their_expiry(broker):
    _, port = broker
    pub = v5(port, "kept-pub")
    for qos in (0, 1, 2):
        pub.publish(f"kept/q{qos}", f"q{qos}", qos=qos, retain=True, properties=forwarded()).wait_for_publish(
            timeout=10
        )
    pub.publish("brief/x", "gone soon", qos=1, retain=True, properties=props(MessageExpiryInterval=1)).wait_for_publish(
        timeout=10
    )
    time.sleep(2.2)
    late = v5(port, "kept-late")
    subscribe(late, "kept/#", qos=2, properties=sub_id(9))
    got = sorted((get(late) for _ in range(3)), key=lambda m: m.topic)
    for qos, msg in enumerate(got):
        assert (msg.topic, msg.payload, msg.retain) == (f"kept/q{qos}", f"q{qos}".encode(), True)
        assert_forwarded(msg, ident=9, max_expiry=58)
    # A retained message past its expiry is not sent.
    subscribe(late, "brief/#", qos=1)
    nothing_more(late)
    close(pub, late)


def test_properties_survive_an_offline_session_and_a_redelivery(broker):
    _, port = broker
    away = v5(port, "props-away", expiry=300)
    subscribe(away, "away/#", qos=2, properties=sub_id(5))
    close(away)
    pub = v5(port, "away-pub")
    pub.publish("away/1", "one", qos=1, properties=forwarded()).wait_for_publish(timeout=10)
    pub.publish("away/2", "two", qos=2, properties=forwarded()).wait_for_publish(timeout=10)
    # Back, but acknowledging nothing: both are sent again next time.
    back = v5(port, "props-away", clean=False, expiry=300, manual_ack=True)
    assert session_present(back)
    got = sorted((get(back) for _ in range(2)), key=lambda m: m.topic)
    assert [(m.topic, m.qos) for m in got] == [("away/1", 1), ("away/2", 2)]
    for msg in got:
        assert_forwarded(msg, ident=5)
    back.loop_stop()
    back.socket().close()
    again = v5(port, "props-away", clean=False, expiry=300)
    assert session_present(again)
    first = get(again)
    assert first.topic == "away/1" and first.dup
    assert_forwarded(first, ident=5)
    close(pub, again)


@pytest.mark.asyncio
async def test_properties_cross_a_nats_hop(broker):
    """MQTT -> NATS headers -> a NATS client passing the message on -> MQTT."""
    url, port = broker
    nc = await nats.connect(url)

    async def hop(msg):
        await nc.publish("hop.out", msg.data, reply=msg.reply, headers=msg.headers)

    await nc.subscribe("hop.in", cb=hop)
    await settle(nc)
    sub = v5(port, "hop-sub")
    subscribe(sub, "hop/out", qos=2, properties=sub_id(3))
    pub = v5(port, "hop-pub")
    # nats-py keeps one value per header name: one user property here.
    user = (("k", "v"),)
    for qos in (0, 1, 2):
        pub.publish("hop/in", f"q{qos}", qos=qos, properties=forwarded(user=user))
        msg = await asyncio.to_thread(get, sub)
        assert msg.payload == f"q{qos}".encode()
        assert_forwarded(msg, ident=3, user=user)
    close(sub, pub)
    await nc.close()


def test_no_local_at_every_qos(broker):
    _, port = broker
    me = v5(port, "nolocal")
    other = v5(port, "nolocal-other")
    me.subscribe("nl/#", options=SubscribeOptions(qos=2, noLocal=True))
    me.subscribed.get(timeout=10)
    for qos in (0, 1, 2):
        me.publish("nl/own", f"own{qos}", qos=qos).wait_for_publish(timeout=10)
    for qos in (0, 1, 2):
        other.publish("nl/other", f"other{qos}", qos=qos).wait_for_publish(timeout=10)
    got = sorted(get(me).payload for _ in range(3))
    assert got == [b"other0", b"other1", b"other2"]
    nothing_more(me)
    close(me, other)


def test_a_session_resumed_without_a_session_expiry_gets_what_was_queued(broker):
    _, port = broker
    a = v5(port, "resume", expiry=99999)
    subscribe(a, "resume/#", qos=2)
    close(a)
    pub = v5(port, "resume-pub")
    for qos in (0, 1, 2):
        pub.publish("resume/x", f"q{qos}", qos=qos).wait_for_publish(timeout=10)
    b = v5(port, "resume", clean=False)
    assert session_present(b)
    assert sorted(get(b).payload for _ in range(2)) == [b"q1", b"q2"]
    close(b)
    # That connection had Session Expiry 0: the session ended with it.
    c = v5(port, "resume", clean=False, expiry=60)
    assert not session_present(c)
    close(c, pub)


def test_a_session_lives_its_expiry_after_the_disconnect(broker):
    _, port = broker
    a = v5(port, "short", expiry=5)
    subscribe(a, "short/#", qos=1)
    close(a)
    time.sleep(2)
    b = v5(port, "short", clean=False, expiry=3)
    assert session_present(b)
    close(b)
    time.sleep(5)
    c = v5(port, "short", clean=False, expiry=5)
    assert not session_present(c)
    close(c)


def test_disconnect_sets_a_new_session_expiry(broker):
    _, port = broker
    a = v5(port, "longer", expiry=1)
    subscribe(a, "longer/#", qos=1)
    a.disconnect(properties=props(PacketTypes.DISCONNECT, SessionExpiryInterval=300))
    a.loop_stop()
    time.sleep(2.5)
    b = v5(port, "longer", clean=False, expiry=300)
    assert session_present(b)
    b.disconnect(properties=props(PacketTypes.DISCONNECT, SessionExpiryInterval=0))
    b.loop_stop()
    # The DISCONNECT and the next CONNECT travel on two connections, between
    # which no broker owes an order: give the first a moment to arrive.
    time.sleep(0.5)
    c = v5(port, "longer", clean=False, expiry=300)
    assert not session_present(c)
    close(c)


@pytest.mark.parametrize("repeat_expiry", [True, False])
def test_messages_expire_while_queued(broker, repeat_expiry):
    _, port = broker
    cid = f"expiring-{repeat_expiry}"
    a = v5(port, cid, expiry=300)
    subscribe(a, "exp/#", qos=2)
    close(a)
    pub = v5(port, "exp-pub")
    for name, qos, secs in (("short1", 1, 1), ("short2", 2, 1), ("long1", 1, 6), ("long2", 2, 6)):
        pub.publish(f"exp/{name}", name, qos=qos, properties=props(MessageExpiryInterval=secs)).wait_for_publish(
            timeout=10
        )
    time.sleep(3)
    b = v5(port, cid, clean=False, expiry=300 if repeat_expiry else None)
    assert session_present(b)
    got = sorted((get(b) for _ in range(2)), key=lambda m: m.topic)
    assert [m.topic for m in got] == ["exp/long1", "exp/long2"]
    for m in got:
        assert 0 < m.properties.MessageExpiryInterval < 6
    nothing_more(b)
    close(b, pub)


@pytest.mark.asyncio
async def test_requests_at_qos_1_and_2_reach_a_nats_service_and_come_back(broker):
    url, port = broker
    nc = await nats.connect(url)

    async def echo_headers(msg):
        # The reply carries the request's headers (Nmqtt-Pub among them).
        await nc.publish(msg.reply, b"re:" + msg.data, headers=msg.headers)

    async def plain(msg):
        await msg.respond(b"re:" + msg.data)

    await nc.subscribe("svc.echo", cb=echo_headers)
    await nc.subscribe("svc.plain", cb=plain)
    await settle(nc)
    c = v5(port, "requester")
    subscribe(c, "answers/qos", qos=2)
    for service in ("echo", "plain"):
        for qos in (0, 1, 2):
            request = props(ResponseTopic="answers/qos", CorrelationData=f"{service}{qos}".encode())
            c.publish(f"svc/{service}", f"q{qos}", qos=qos, properties=request)
            msg = await asyncio.to_thread(get, c)
            assert (msg.topic, msg.payload) == ("answers/qos", f"re:q{qos}".encode())
            assert msg.properties.CorrelationData == f"{service}{qos}".encode()
    close(c)
    await nc.close()


def test_connack_announces_a_receive_maximum(broker):
    _, port = broker
    c = v5(port, "announced")
    assert c.connack[2].ReceiveMaximum == 1024
    close(c)
