"""Decentralized auth end to end: `junction auth` makes an operator, accounts
and a user; junction runs with the config it prints; nats-py connects with
the .creds file (user_credentials), and a wrong one is refused."""

import os
import subprocess
import tempfile

import nats
import pytest

from conftest import BINARY, start_junction, settle

pytestmark = pytest.mark.asyncio


@pytest.fixture
def operator_setup():
    store = tempfile.mkdtemp(prefix="junction-auth-")
    subprocess.run([BINARY, "auth", "init", "--dir", store], check=True, capture_output=True)
    conf = os.path.join(store, "server.conf")
    subprocess.run([BINARY, "auth", "config", "--dir", store, "-o", conf], check=True, capture_output=True)
    proc, url = start_junction("-c", conf)
    yield store, url
    proc.terminate()
    proc.wait(timeout=10)


async def test_creds_file_connects_and_exchanges_messages(operator_setup):
    store, url = operator_setup
    creds = os.path.join(store, "users", "APP", "app.creds")
    a = await nats.connect(url, user_credentials=creds)
    b = await nats.connect(url, user_credentials=creds)
    sub = await b.subscribe("greet.*")
    await settle(b)
    await a.publish("greet.py", b"hello from nats-py")
    msg = await sub.next_msg(timeout=2)
    assert msg.data == b"hello from nats-py"
    await a.close()
    await b.close()


async def test_user_of_another_operator_is_refused(operator_setup):
    _, url = operator_setup
    other = tempfile.mkdtemp(prefix="junction-auth-other-")
    subprocess.run([BINARY, "auth", "init", "--dir", other], check=True, capture_output=True)
    creds = os.path.join(other, "users", "APP", "app.creds")
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(url, user_credentials=creds, allow_reconnect=False, max_reconnect_attempts=0)
