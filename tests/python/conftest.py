"""Starts the junction binary on a random port for the nats-py interop tests."""

import glob
import json
import os
import queue
import socket
import subprocess
import tempfile
import time

import paho.mqtt.client as mqtt
import pytest

BINARY = os.environ.get("JUNCTION_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "junction"))


def make_cert(directory):
    """A self-signed certificate for localhost and 127.0.0.1, made with openssl."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def start_junction(*args):
    proc, ports = start_junction_ports(*args)
    return proc, ports["nats"][0]


def start_junction_ports(*args):
    """Starts junction and returns it with its ports file (nats, websocket, ...)."""
    tmp = tempfile.mkdtemp(prefix="junction-py-")
    proc = subprocess.Popen(
        [BINARY, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", tmp, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        for path in glob.glob(os.path.join(tmp, "*.ports")):
            try:
                with open(path) as f:
                    ports = json.load(f)
                if "nats" in ports:
                    return proc, ports
            except (ValueError, KeyError):
                pass
        if proc.poll() is not None:
            # It stopped (say, a port it was given is taken): no use waiting.
            break
        time.sleep(0.02)
    proc.kill()
    raise RuntimeError("junction did not write its ports file")


@pytest.fixture
def junction_url():
    proc, url = start_junction()
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def junction_with_token():
    proc, url = start_junction("--auth", "s3cret")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


async def settle(nc):
    """Proves the server has every subscription this connection made so far.

    nats-py's flush() writes its PING straight to the socket while SUBs wait
    in the client's pending buffer, so the PONG can come back before the
    server has seen a SUB. A probe published after the SUBs goes through the
    same buffer, so once it comes back the server has processed them all."""
    inbox = nc.new_inbox()
    probe = await nc.subscribe(inbox)
    await nc.publish(inbox, b"probe")
    await probe.next_msg(timeout=5)
    await probe.unsubscribe()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# How a broker gets JetStream: from its configuration file, or from the
# command-line flags over a file that has only the mqtt {} block, as
# `junction -js -sd DIR -c file.conf` (nats-server starts that too).
JETSTREAM_FROM = ["file", "flags"]


def start_broker(tls=False, jetstream_from="file"):
    """junction with JetStream and MQTT (over TLS with a certificate made
    here); returns (process, nats url, mqtt port, certificate or None)."""
    tmp = tempfile.mkdtemp(prefix="junction-mqtt-")
    conf = os.path.join(tmp, "mqtt.conf")
    cert = None
    block = ""
    if tls:
        cert, key = make_cert(tmp)
        block = f'tls {{ cert_file: "{cert}", key_file: "{key}" }}'
    jetstream = f'jetstream {{ store_dir: "{tmp}/store" }}\n' if jetstream_from == "file" else ""
    flags = ["-js", "-sd", f"{tmp}/store"] if jetstream_from == "flags" else []
    # The free port can be taken by someone else before junction binds it
    # (then junction stops at once): try another.
    for attempt in range(3):
        port = free_port()
        with open(conf, "w") as f:
            f.write(f'{jetstream}mqtt {{\n  listen: "127.0.0.1:{port}"\n  {block}\n}}\n')
        try:
            proc, url = start_junction(*flags, "-c", conf)
            break
        except RuntimeError:
            if attempt == 2:
                raise
    deadline = time.time() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.02)
    return proc, url, port, cert


@pytest.fixture(params=JETSTREAM_FROM)
def broker(request):
    """junction with JetStream and MQTT; yields (nats url, mqtt port)."""
    proc, url, port, _ = start_broker(jetstream_from=request.param)
    yield url, port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=JETSTREAM_FROM)
def tls_broker(request):
    """The same over TLS; yields (nats url, mqtt port, CA certificate)."""
    proc, url, port, cert = start_broker(tls=True, jetstream_from=request.param)
    yield url, port, cert
    proc.terminate()
    proc.wait(timeout=10)


def paho(port, client_id, version=mqtt.MQTTv311, clean=True, will=None, ca=None, properties=None, manual_ack=False):
    """A connected paho client whose messages arrive on a queue (over TLS,
    trusting `ca`, when given). MQTT 5 CONNECT `properties` are passed on;
    the CONNACK's flags and properties are kept as `connack`."""
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version, manual_ack=manual_ack
    )
    if ca:
        c.tls_set(ca_certs=ca)
    inbox = queue.Queue()
    subscribed = queue.Queue()
    connected = queue.Queue()
    c.on_message = lambda client, userdata, msg: inbox.put(msg)
    c.on_subscribe = lambda client, userdata, mid, codes, props: subscribed.put(codes)
    c.on_connect = lambda client, userdata, flags, code, props: connected.put((flags, code, props))
    if will:
        c.will_set(*will)
    if version == mqtt.MQTTv5:
        c.connect("127.0.0.1", port, keepalive=30, clean_start=clean, properties=properties)
    else:
        c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    c.connack = connected.get(timeout=10)
    c.inbox = inbox
    c.subscribed = subscribed
    return c


def subscribe(c, topic, qos=0, **kw):
    c.subscribe(topic, qos, **kw)
    return c.subscribed.get(timeout=10)
