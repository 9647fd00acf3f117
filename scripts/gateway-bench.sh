#!/usr/bin/env bash
# Two one-node clusters joined by gateways, for each of two server binaries
# (Junction and nats-server by default), measured by the official Go
# client's bench (../shared/bench's natsbench): publisher on cluster A,
# subscribers (or the responder) on cluster B. Rounds alternate between the
# binaries; medians and ratios are printed.
#
#   scripts/gateway-bench.sh [BIN_A] [BIN_B]      (ROUNDS=3 by default)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
A=${1:-$HERE/../target/release/junction}
B=${2:-$("$HERE/../../shared/bench/nats-server.sh" 2.15.1)}
ROUNDS=${ROUNDS:-3}
NATSBENCH=${NATSBENCH:-$HOME/.cache/junction-bench/bin/natsbench}
[ -x "$NATSBENCH" ] || "$HERE/../../shared/bench/build.sh" nats
WORK=$(mktemp -d /tmp/gateway-bench.XXXXXX)

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start BIN: two servers, gateways A and B, A dialling B; prints "PIDS CA CB".
start() {
    local bin=$1 ca cb ga gb
    ca=$(port); cb=$(port); ga=$(port); gb=$(port)
    printf 'listen: 127.0.0.1:%s\ngateway { name: B, listen: 127.0.0.1:%s }\n' "$cb" "$gb" >"$WORK/b.conf"
    printf 'listen: 127.0.0.1:%s\ngateway { name: A, listen: 127.0.0.1:%s, gateways: [ { name: B, url: "nats://127.0.0.1:%s" } ] }\n' \
        "$ca" "$ga" "$gb" >"$WORK/a.conf"
    "$bin" -c "$WORK/b.conf" >"$WORK/b.log" 2>&1 &
    local pb=$!
    "$bin" -c "$WORK/a.conf" >"$WORK/a.log" 2>&1 &
    local pa=$!
    sleep 3
    echo "$pa,$pb $ca $cb"
}

cpu_ms() { # user+sys of the given pids, in ms
    local total=0 p
    for p in ${1//,/ }; do
        read -r -a f <"/proc/$p/stat"
        total=$((total + (f[13] + f[14]) * 1000 / $(getconf CLK_TCK)))
    done
    echo $total
}

run() { # BIN SCENARIO-ARGS... ; prints the figure
    local bin=$1 kind=$2; shift 2
    read -r pids ca cb < <(start "$bin")
    local before out
    before=$(cpu_ms "$pids")
    out=$("$NATSBENCH" -s "nats://127.0.0.1:$ca" -sub-s "nats://127.0.0.1:$cb" "$@" 2>/dev/null || true)
    local cpu=$(($(cpu_ms "$pids") - before))
    kill ${pids//,/ } 2>/dev/null; wait 2>/dev/null || true
    case $kind in
        tput) echo "$(echo "$out" | sed -n 's/.*RESULT msgs_per_sec=\([0-9]*\).*/\1/p' | head -1) $cpu" ;;
        lat) echo "$(echo "$out" | sed -n 's/.*RESULT p50_us=\([0-9]*\).*/\1/p' | head -1) $cpu" ;;
    esac
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

SCENARIOS=(
    "gw-pubsub-16b|tput|-n 1000000 -ms 16 -np 1 -ns 1"
    "gw-pubsub-1k|tput|-n 300000 -ms 1024 -np 1 -ns 1 -pub-window 16384"
    "gw-queue-16b|tput|-n 1000000 -ms 16 -np 1 -ns 4 -q benchq"
    "gw-reqrep-p50|lat|-mode reqrep -n 10000 -ms 16"
)
printf '# A=%s\n# B=%s\n# %s rounds, alternating\n' "$A" "$B" "$ROUNDS"
printf '%-16s %12s %12s %7s %9s\n' scenario A_median B_median A/B cpu_A/B
for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r name kind args <<<"$s"
    : >"$WORK/$name.A"; : >"$WORK/$name.B"
    for _ in $(seq "$ROUNDS"); do
        # shellcheck disable=SC2086
        run "$A" "$kind" $args >>"$WORK/$name.A"
        # shellcheck disable=SC2086
        run "$B" "$kind" $args >>"$WORK/$name.B"
    done
    va=$(awk '{print $1}' "$WORK/$name.A" | median); vb=$(awk '{print $1}' "$WORK/$name.B" | median)
    ca=$(awk '{print $2}' "$WORK/$name.A" | median); cb=$(awk '{print $2}' "$WORK/$name.B" | median)
    printf '%-16s %12s %12s %7.3f %9.3f\n' "$name" "$va" "$vb" "$(echo "$va / $vb" | bc -l)" "$(echo "$ca / ($cb+0.001)" | bc -l)"
done
rm -rf "$WORK"
