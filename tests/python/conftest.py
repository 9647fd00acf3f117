"""Starts the junction binary on a random port for the nats-py interop tests."""

import glob
import json
import os
import subprocess
import tempfile
import time

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
