#!/usr/bin/env bash
# Side-by-side benchmark: junction against nats-server on this machine.
#
# Starts both servers on loopback (fresh for every round), runs the same `junction bench`
# scenarios against each, alternating which goes first, for R rounds, and prints per scenario
# the median for nats-server, the median for junction and the ratio junction/nats-server.
#
# Usage: scripts/bench.sh [-r ROUNDS] [--no-build]
#
# Environment (all optional):
#   ROUNDS=5              rounds (also -r)
#   NATS_SERVER_BIN       reference server (default: nats-server from PATH, installed with apt
#                         if missing)
#   JUNCTION_BIN          server under test (default: target/release/junction); pointing it at
#                         nats-server compares nats-server with itself, to test this script
#   BENCH_BIN             load generator, a binary with the `bench` verb (default:
#                         target/release/junction)
#   NATS_SERVER_ARGS / JUNCTION_ARGS   extra server arguments (default: -a 127.0.0.1);
#                         `-p PORT` is appended
#   BUILD_CMD             build command (default: cargo build --release); SKIP_BUILD=1 skips it
#   MSGS=2000000          base message count of the throughput scenarios
#   REQS=10000            requests timed by the latency scenario
#   IDLE_CONNS=10000      idle connections of the memory scenario
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
SKIP_BUILD=${SKIP_BUILD:-0}
while [ $# -gt 0 ]; do
    case "$1" in
        -r | --rounds) ROUNDS=$2; shift 2 ;;
        --no-build) SKIP_BUILD=1; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "ROUNDS must be a positive number" >&2; exit 2 ;; esac

MSGS=${MSGS:-2000000}
REQS=${REQS:-10000}
IDLE_CONNS=${IDLE_CONNS:-10000}
JUNCTION_BIN=${JUNCTION_BIN:-$ROOT/target/release/junction}
BENCH_BIN=${BENCH_BIN:-$ROOT/target/release/junction}
NATS_SERVER_ARGS=${NATS_SERVER_ARGS:--a 127.0.0.1}
JUNCTION_ARGS=${JUNCTION_ARGS:--a 127.0.0.1}
BUILD_CMD=${BUILD_CMD:-cargo build --release}

export RUST_BACKTRACE=0
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools ------------------------------------------------------------------------------
if [ -z "${NATS_SERVER_BIN:-}" ]; then
    NATS_SERVER_BIN=$(PATH=$PATH:/usr/sbin:/usr/local/sbin command -v nats-server || true)
    if [ -z "$NATS_SERVER_BIN" ]; then
        log "installing nats-server with apt"
        apt-get install -y nats-server >&2 || { apt-get update >&2 && apt-get install -y nats-server >&2; }
        NATS_SERVER_BIN=$(PATH=$PATH:/usr/sbin:/usr/local/sbin command -v nats-server) ||
            die "nats-server could not be installed"
    fi
fi
if [ "$SKIP_BUILD" != 1 ]; then
    log "building: $BUILD_CMD"
    (cd "$ROOT" && $BUILD_CMD >&2) || die "build failed"
fi
for bin in "$NATS_SERVER_BIN" "$JUNCTION_BIN" "$BENCH_BIN"; do
    [ -x "$bin" ] || die "not an executable: $bin"
done

# 10,000 idle connections need as many descriptors in the load generator and in the server.
want_fds=$((IDLE_CONNS + 1024))
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -ge "$want_fds" ]; then
    ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$hard"
else
    ulimit -n "$hard"
    log "warning: open files limited to $hard, fewer than the $want_fds wanted"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/junction-bench.XXXXXX")
declare -A PID=()
BENCH_PID=
cleanup() {
    [ -n "$BENCH_PID" ] && kill "$BENCH_PID" 2>/dev/null || true
    for who in "${!PID[@]}"; do stop_server "$who"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- servers ----------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        if port_free "$p" && [ "$p" != "${PORT[nats]:-}" ] && [ "$p" != "${PORT[junction]:-}" ]; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

declare -A PORT=()
start_server() { # name
    local who=$1 bin args port
    if [ "$who" = nats ]; then bin=$NATS_SERVER_BIN args=$NATS_SERVER_ARGS; else bin=$JUNCTION_BIN args=$JUNCTION_ARGS; fi
    port=$(free_port)
    PORT[$who]=$port
    # shellcheck disable=SC2086 # the extra arguments are meant to be split
    "$bin" $args -p "$port" >"$WORK/$who.log" 2>&1 </dev/null &
    PID[$who]=$!
    for _ in $(seq 200); do
        kill -0 "${PID[$who]}" 2>/dev/null || die "$who exited at start: $(tail -5 "$WORK/$who.log")"
        port_free "$port" || return 0
        sleep 0.05
    done
    die "$who did not listen on port $port within 10s"
}
stop_server() { # name
    local who=$1
    [ -n "${PID[$who]:-}" ] || return 0
    kill "${PID[$who]}" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "${PID[$who]}" 2>/dev/null || break; sleep 0.05; done
    kill -9 "${PID[$who]}" 2>/dev/null || true
    wait "${PID[$who]}" 2>/dev/null || true
    unset "PID[$who]"
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/${PID[$1]}/status"; }

# --- measurements -----------------------------------------------------------------------
errors() { grep -v '^[[:space:]]*$' "$WORK/bench.err" | head -4 | tr -s ' \n' ' '; }
# Samples are appended to $WORK/<metric>.<server>, one number a line.
record() { [ -z "$3" ] || echo "$3" >>"$WORK/$1.$2"; }
json_get() { sed -n 's/.*"'"$1"'":\([-0-9.eE+]*\).*/\1/p'; }

# run_bench <server> <metric=json_key,...> <bench args...>
run_bench() {
    local who=$1 keys=$2 out pair
    shift 2
    if ! out=$(timeout 300 "$BENCH_BIN" bench "$@" --json -s "nats://127.0.0.1:${PORT[$who]}" 2>"$WORK/bench.err"); then
        log "warning: $who: bench $* failed: $(errors)"
        return 0
    fi
    for pair in ${keys//,/ }; do
        record "${pair%%=*}" "$who" "$(echo "$out" | json_get "${pair#*=}")"
    done
}

# Resident memory of a fresh server, alone and with $IDLE_CONNS idle connections held open.
measure_memory() { # server
    local who=$1 out="$WORK/idle.out" up=0
    record rss_base "$who" "$(rss_kib "$who")"
    : >"$out"
    "$BENCH_BIN" bench --idle-conns "$IDLE_CONNS" --hold 600s --json --max-time 120s \
        -s "nats://127.0.0.1:${PORT[$who]}" >"$out" 2>"$WORK/bench.err" &
    BENCH_PID=$!
    for _ in $(seq 1200); do
        if grep -q '"mode":"idle"' "$out"; then up=1; break; fi
        kill -0 "$BENCH_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [ "$up" = 1 ]; then
        sleep 1 # let the server settle
        record rss_idle "$who" "$(rss_kib "$who")"
    else
        log "warning: $who: idle connections did not come up: $(errors)"
    fi
    kill "$BENCH_PID" 2>/dev/null || true
    wait "$BENCH_PID" 2>/dev/null || true
    BENCH_PID=
}

scenarios() { # server
    local who=$1 half=$((MSGS / 2)) quarter=$((MSGS / 4))
    run_bench "$who" pub16=pub_msgs_per_sec bench.pub --pub 1 --msgs $((MSGS * 4)) --size 16
    # The pub/sub lines count published plus received messages, as nats bench's headline does.
    run_bench "$who" pubsub16=msgs_per_sec bench.pubsub --pub 1 --sub 1 --msgs "$MSGS" --size 16
    run_bench "$who" fanout16=msgs_per_sec bench.fanout --pub 1 --sub 4 --msgs "$half" --size 16
    run_bench "$who" queue16=msgs_per_sec bench.queue --pub 1 --sub 4 --queue workers \
        --msgs "$MSGS" --size 16
    run_bench "$who" pubsub1k=msgs_per_sec bench.pubsub1k --pub 1 --sub 1 --msgs "$quarter" --size 1024
    run_bench "$who" req_p50=p50_us,req_p99=p99_us bench.req --request --msgs "$REQS" --size 16
}

log "nats-server: $NATS_SERVER_BIN ($("$NATS_SERVER_BIN" --version 2>&1 | head -1))"
log "junction:    $JUNCTION_BIN"
log "load:        $BENCH_BIN; $ROUNDS rounds"
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="nats junction"; else order="junction nats"; fi
    log "round $round/$ROUNDS (first: ${order%% *})"
    for who in $order; do start_server "$who"; done
    for who in $order; do measure_memory "$who"; done
    sleep 1
    for who in $order; do scenarios "$who"; done
    for who in $order; do stop_server "$who"; done
done

# --- report -----------------------------------------------------------------------------
median() { # file
    [ -s "$1" ] || { echo NA; return; }
    { grep -E '^[-0-9.eE+]+$' "$1" || true; } | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "NA"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

printf '\n%-36s %-22s %14s %14s %9s\n' "Scenario ($ROUNDS rounds, medians)" "Metric" "nats-server" "junction" "ratio"
row() { # metric label unit scale decimals
    local n j cn cj
    n=$(median "$WORK/$1.nats")
    j=$(median "$WORK/$1.junction")
    cn=$(grep -c . "$WORK/$1.nats" 2>/dev/null || true)
    cj=$(grep -c . "$WORK/$1.junction" 2>/dev/null || true)
    awk -v label="$2" -v unit="$3" -v scale="$4" -v dec="$5" -v n="$n" -v j="$j" \
        -v cn="${cn:-0}" -v cj="${cj:-0}" -v rounds="$ROUNDS" '
        function show(v) {
            if (v == "NA") return sprintf("%14s", "NA")
            v = sprintf("%." dec "f", v / scale)
            if (dec == 0) while (v ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", v)
            return sprintf("%14s", v)
        }
        BEGIN {
            r = (n == "NA" || j == "NA" || n == 0) ? sprintf("%9s", "NA") : sprintf("%9.2f", j / n)
            note = (cn < rounds || cj < rounds) ? sprintf("  (samples: %d/%d)", cn, cj) : ""
            printf "%-36s %-22s %s %s %s%s\n", label, unit, show(n), show(j), r, note
        }'
}
row pub16 "publish only, 16 B" "msgs/s (higher=better)" 1 0
row pubsub16 "pub -> sub 1:1, 16 B" "msgs/s pub+sub" 1 0
row fanout16 "fan-out 1 -> 4, 16 B" "msgs/s pub+sub" 1 0
row queue16 "queue group 1 -> 4, 16 B" "msgs/s pub+sub" 1 0
row pubsub1k "pub -> sub 1:1, 1 KiB" "msgs/s pub+sub" 1 0
row req_p50 "request/reply 16 B, p50" "us (lower=better)" 1 1
row req_p99 "request/reply 16 B, p99" "us (lower=better)" 1 1
row rss_base "resident memory, no clients" "MiB (lower=better)" 1024 1
row rss_idle "resident memory, $IDLE_CONNS idle conns" "MiB (lower=better)" 1024 1
