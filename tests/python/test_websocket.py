"""nats-py over WebSocket, plain (ws://) and TLS (wss://, a certificate made
here with openssl), exchanging messages and requests with a TCP client
through the same junction."""

import asyncio
import os
import ssl
import subprocess
import tempfile

import nats
import pytest

from conftest import make_cert, start_junction_ports, settle

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=["ws", "wss"])
def websocket_server(request):
    tmp = tempfile.mkdtemp(prefix="junction-ws-")
    if request.param == "wss":
        cert, key = make_cert(tmp)
        block = f'tls {{ cert_file: "{cert}", key_file: "{key}" }}'
        ctx = ssl.create_default_context(cafile=cert)
    else:
        block, ctx = "no_tls: true", None
    conf = os.path.join(tmp, "ws.conf")
    with open(conf, "w") as f:
        f.write(f"websocket {{ port: -1, {block} }}\n")
    proc, ports = start_junction_ports("-c", conf)
    yield ports["nats"][0], ports["websocket"][0], ctx
    proc.terminate()
    proc.wait(timeout=10)


async def test_websocket_client_talks_to_tcp_client(websocket_server):
    nats_url, ws_url, ctx = websocket_server
    assert ws_url.startswith("wss://" if ctx else "ws://")
    ws = await nats.connect(ws_url, tls=ctx) if ctx else await nats.connect(ws_url)
    tcp = await nats.connect(nats_url)

    # TCP -> WebSocket, with a header.
    sub = await ws.subscribe("to.ws.>")
    await settle(ws)
    await tcp.publish("to.ws.a", b"hello browser side", headers={"X-From": "tcp"})
    msg = await sub.next_msg(timeout=2)
    assert (msg.subject, msg.data, msg.headers["X-From"]) == ("to.ws.a", b"hello browser side", "tcp")

    # WebSocket -> TCP, a large payload split over several frames.
    tsub = await tcp.subscribe("to.tcp")
    await settle(tcp)
    big = os.urandom(200_000)
    await ws.publish("to.tcp", big)
    msg = await tsub.next_msg(timeout=2)
    assert msg.data == big

    # Requests both ways.
    async def echo(m):
        await m.respond(b"echo:" + m.data)

    await ws.subscribe("svc.ws", cb=echo)
    await tcp.subscribe("svc.tcp", cb=echo)
    await settle(ws)
    await settle(tcp)
    assert (await tcp.request("svc.ws", b"1", timeout=2)).data == b"echo:1"
    assert (await ws.request("svc.tcp", b"2", timeout=2)).data == b"echo:2"

    # No responders reach WebSocket clients too.
    with pytest.raises(nats.errors.NoRespondersError):
        await ws.request("nobody.home", b"", timeout=2)

    await ws.close()
    await tcp.close()


async def test_tls_on_the_nats_port():
    """`--tls` flags: nats-py reads INFO in the clear, upgrades, and talks to a WebSocket client."""
    tmp = tempfile.mkdtemp(prefix="junction-tls-")
    cert, key = make_cert(tmp)
    conf = os.path.join(tmp, "ws.conf")
    with open(conf, "w") as f:
        f.write("websocket { port: -1, no_tls: true }\n")
    proc, ports = start_junction_ports("-c", conf, "--tls", "--tlscert", cert, "--tlskey", key)
    try:
        ctx = ssl.create_default_context(cafile=cert)
        nc = await nats.connect(ports["nats"][0], tls=ctx, tls_hostname="localhost")
        ws = await nats.connect(ports["websocket"][0])
        sub = await ws.subscribe("secure")
        await settle(ws)
        await nc.publish("secure", b"tls to ws")
        assert (await sub.next_msg(timeout=2)).data == b"tls to ws"
        await nc.close()
        await ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
