"""MQTT clients that share no code with junction: paho-mqtt (3.1.1 and 5)
and Debian's mosquitto_pub/mosquitto_sub, talking with nats-py through the
same subjects."""

import asyncio
import socket
import subprocess
import time

import nats
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from conftest import paho, settle, subscribe


@pytest.mark.asyncio
async def test_paho_and_nats_py_exchange_messages_at_qos_0_and_1(broker):
    url, port = broker
    nc = await nats.connect(url)
    sub = await nc.subscribe("sensors.*.temp")
    await settle(nc)
    device = paho(port, "paho-device")
    for qos in (0, 1):
        info = device.publish(f"sensors/q{qos}/temp", f"{qos}", qos=qos)
        info.wait_for_publish(timeout=10)
        msg = await sub.next_msg(timeout=5)
        assert msg.subject == f"sensors.q{qos}.temp" and msg.data == f"{qos}".encode()
    subscribe(device, "cmd/#", qos=1)
    await nc.publish("cmd.lamp", b"on")
    await nc.flush()
    got = await asyncio.to_thread(device.inbox.get, True, 10)
    assert got.topic == "cmd/lamp" and got.payload == b"on"
    device.disconnect()
    device.loop_stop()
    await nc.close()


@pytest.mark.asyncio
async def test_paho_retained_will_and_qos2(broker):
    _, port = broker
    pub = paho(port, "paho-pub")
    pub.publish("state/door", "open", qos=1, retain=True).wait_for_publish(timeout=10)
    late = paho(port, "paho-late")
    subscribe(late, "state/#", qos=1)
    got = await asyncio.to_thread(late.inbox.get, True, 10)
    assert (got.topic, got.payload, got.retain) == ("state/door", b"open", True)
    # QoS 2 end to end.
    subscribe(late, "pay/#", qos=2)
    for i in range(5):
        pub.publish("pay/x", str(i), qos=2).wait_for_publish(timeout=10)
    for i in range(5):
        got = await asyncio.to_thread(late.inbox.get, True, 10)
        assert got.payload == str(i).encode() and got.qos == 2
    # A will, sent when the connection drops.
    watcher = paho(port, "paho-watcher")
    subscribe(watcher, "wills/#")
    doomed = paho(port, "paho-doomed", will=("wills/doomed", "bye", 1, False))
    doomed.loop_stop()
    doomed.socket().close()
    got = await asyncio.to_thread(watcher.inbox.get, True, 10)
    assert (got.topic, got.payload) == ("wills/doomed", b"bye")
    for c in (pub, late, watcher):
        c.disconnect()
        c.loop_stop()


@pytest.mark.asyncio
async def test_paho_v5_calls_a_nats_py_service(broker):
    url, port = broker
    nc = await nats.connect(url)

    async def handler(msg):
        await msg.respond(b"pong:" + msg.data)

    await nc.subscribe("svc.ping", cb=handler)
    await settle(nc)
    c = paho(port, "paho-v5", version=mqtt.MQTTv5)
    subscribe(c, "answers/me", qos=1)
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "answers/me"
    props.CorrelationData = b"corr-7"
    props.UserProperty = [("who", "paho")]
    c.publish("svc/ping", "hi", qos=0, properties=props)
    got = await asyncio.to_thread(c.inbox.get, True, 10)
    assert got.topic == "answers/me" and got.payload == b"pong:hi"
    assert got.properties.CorrelationData == b"corr-7"
    c.disconnect()
    c.loop_stop()
    await nc.close()


def test_mosquitto_clients(broker):
    _, port = broker
    base = ["-h", "127.0.0.1", "-p", str(port)]
    sub = subprocess.Popen(
        ["mosquitto_sub", *base, "-t", "mq/#", "-q", "1", "-v", "-W", "15"],
        stdout=subprocess.PIPE,
        text=True,
    )

    def until(line):
        seen = []
        while True:
            got = sub.stdout.readline()
            assert got, f"mosquitto_sub ended before {line!r}: {seen}"
            seen.append(got.strip())
            if got.strip() == line:
                return

    # The subscription is in place once a retained probe comes back (it may
    # come twice, retained and live, if it races the SUBSCRIBE).
    subprocess.run(["mosquitto_pub", *base, "-t", "mq/ready", "-m", "r", "-r", "-q", "1"], check=True, timeout=10)
    until("mq/ready r")
    subprocess.run(["mosquitto_pub", *base, "-t", "mq/hello", "-m", "world", "-q", "1"], check=True, timeout=10)
    until("mq/hello world")
    sub.terminate()
    sub.wait(timeout=5)
    # A retained message for a late mosquitto_sub, then cleared.
    subprocess.run(["mosquitto_pub", *base, "-t", "mq/kept", "-m", "still", "-r"], check=True, timeout=10)
    out = subprocess.run(
        ["mosquitto_sub", *base, "-t", "mq/kept", "-C", "1", "-W", "5"], capture_output=True, text=True, timeout=10
    )
    assert out.stdout.strip() == "still"
    subprocess.run(["mosquitto_pub", *base, "-t", "mq/kept", "-n", "-r"], check=True, timeout=10)
    out = subprocess.run(
        ["mosquitto_sub", *base, "-t", "mq/kept", "-C", "1", "-W", "1"], capture_output=True, text=True, timeout=10
    )
    assert out.stdout.strip() == ""
    # MQTT 5 too.
    out = subprocess.run(
        ["mosquitto_sub", *base, "-V", "mqttv5", "-t", "mq/ready", "-C", "1", "-W", "5"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert out.stdout.strip() == "r"


def test_mqtt_over_tls_with_paho_and_mosquitto_clients(tls_broker):
    """The mqtt block's tls: paho and mosquitto_pub/mosquitto_sub connect
    over TLS, verifying the certificate, and exchange QoS 1 messages."""
    _, port, cert = tls_broker
    sub = paho(port, "tls-sub", ca=cert)
    assert [c.value for c in subscribe(sub, "secure/#", qos=1)] == [1]
    pub = paho(port, "tls-pub", ca=cert)
    pub.publish("secure/paho", b"over tls", qos=1).wait_for_publish(timeout=10)
    got = sub.inbox.get(timeout=10)
    assert (got.topic, got.payload, got.qos) == ("secure/paho", b"over tls", 1)
    base = ["-h", "localhost", "-p", str(port), "--cafile", cert]
    subprocess.run(["mosquitto_pub", *base, "-t", "secure/mosquitto", "-m", "hi", "-q", "1"], check=True, timeout=10)
    got = sub.inbox.get(timeout=10)
    assert (got.topic, got.payload) == ("secure/mosquitto", b"hi")
    out = subprocess.Popen(
        ["mosquitto_sub", *base, "-t", "secure/back", "-q", "1", "-C", "1", "-W", "10"],
        stdout=subprocess.PIPE,
        text=True,
    )
    # Published until mosquitto_sub's subscription is in place.
    deadline = time.time() + 10
    while out.poll() is None and time.time() < deadline:
        pub.publish("secure/back", b"answer", qos=1).wait_for_publish(timeout=10)
        time.sleep(0.1)
    assert out.wait(timeout=10) == 0
    assert out.stdout.read().strip() == "answer"
    # A client speaking plain MQTT to the TLS port gets no CONNACK.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 30, 0, 0]))
        s.settimeout(5)
        try:
            answer = s.recv(16)
        except (ConnectionResetError, socket.timeout):
            answer = b""
        assert not answer.startswith(bytes([0x20, 2])), answer
    for c in (sub, pub):
        c.loop_stop()
        c.disconnect()
