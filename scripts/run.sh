#!/usr/bin/env bash
# Runs the gateway the way the README's first command promises: NATS on
# 4222, NATS and MQTT over WebSocket on 8080, MQTT on 1883, monitoring and
# the browser demo on http://localhost:8222/. It installs the demo's client library (the
# official nats.ws, from npm) on first use. Extra arguments go to junction.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f web/node_modules/nats.ws/esm/nats.js ] || [ ! -f web/node_modules/mqtt/dist/mqtt.esm.js ]; then
  npm ci --prefix web --no-audit --no-fund --silent
fi
mkdir -p data
exec cargo run --release --bin junction -- -c config/gateway.conf "$@"
