#!/usr/bin/env bash
# The example proxy under load (issue 19), on 127.0.0.1 only, bounded in time and count (about
# 3-4 minutes after the build): the proxy without Steward, with the layer in memory, on SQLite,
# and on PostgreSQL with two proxy processes on one database, at concurrency 1, 8 and 64; then
# on SQLite while a retention sweep of 20,000 records runs and consent changes arrive, while
# stewards open records in a loop, and a kill -9 check: every request the proxy acknowledged
# (a whole response with its `steward-record` id) is in the store after the proxy is killed.
#
#   bash scripts/loadtest.sh                 # everything; PostgreSQL if STEWARD_POSTGRES is set
#   SECONDS_PER_RUN=5 bash scripts/loadtest.sh
#
# Results: target/loadtest/results.jsonl (one line per run) and a table with ratios to the
# run's own baseline (the proxy without Steward at the same concurrency) on standard output.
# docs/benchmarks.md records a run. Not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
OUT="$TARGET/loadtest"
BIN="$TARGET/release"
UPSTREAM_PORT=19400
PROXY_PORT=18400
PROXY2_PORT=18401
rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS="$OUT/results.jsonl"

features=()
if [ -n "${STEWARD_POSTGRES:-}" ]; then features=(--features postgres); fi
cargo build --release -q -p steward-proxy-example "${features[@]}"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

post() { # post PORT PATH JSON
    curl -sf -XPOST "http://127.0.0.1:$1$2" -H 'content-type: application/json' -d "$3"
}

# Sixteen customers with a relationship; `churn` gets the records the sweep deletes.
CUSTOMERS=$(python3 -c 'print(",".join("0192f1f0-6b2a-7cc3-9a4e-2f1d5c3b%04x" % i for i in range(1, 17)))')
CHURN=0192f1f0-6b2a-7cc3-9a4e-2f1d5c3bffff

# A policy whose deletion window is one second, so that a relationship ended during the run
# has 20,000 records due for the sweep. Otherwise the bundled policy.
POLICY="$OUT/policy.toml"
sed -e 's/^deletion-window = "P30D"/deletion-window = "PT1S"/' -e 's/^window = "P30D"/window = "PT1S"/' \
    examples/coder-model.toml >"$POLICY"

start_proxy() { # start_proxy PORT STORE [extra args]: sets PROXY_PID
    local port=$1 store=$2
    shift 2
    "$BIN/steward-proxy" --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$UPSTREAM_PORT" \
        --store "$store" --policy "$POLICY" "$@" 2>>"$OUT/proxy.log" &
    PROXY_PID=$!
    PIDS+=("$PROXY_PID")
    wait_port "$port"
}

stop_proxy() { # stop_proxy PID: a clean stop (the ingest queue drains)
    kill -INT "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

start_customers() { # start_customers PORT
    for customer in ${CUSTOMERS//,/ } $CHURN; do
        post "$1" /customers "{\"customer\":\"$customer\"}" >/dev/null
    done
}

load() { # load LABEL CONCURRENCY URLS [extra loadgen args]
    local label=$1 concurrency=$2 urls=$3
    shift 3
    "$BIN/steward-loadgen" --url "$urls" --customers "$CUSTOMERS" --concurrency "$concurrency" \
        --seconds "$SECONDS_PER_RUN" --max-requests 200000 --label "$label" "$@" | tee -a "$RESULTS"
}

chat() { echo "http://127.0.0.1:$1/v1/chat/completions"; }

"$BIN/steward-upstream" --listen "127.0.0.1:$UPSTREAM_PORT" 2>>"$OUT/upstream.log" &
PIDS+=("$!")
wait_port $UPSTREAM_PORT

echo "== throughput and latency (${SECONDS_PER_RUN} s per run, 1 KiB prompts) ==" >&2
for mode in none memory sqlite; do
    store=$mode
    create=()
    if [ "$mode" = sqlite ]; then
        store="sqlite:$OUT/proxy.db"
        create=(--create)
    fi
    start_proxy $PROXY_PORT "$store" "${create[@]}"
    if [ "$mode" != none ]; then start_customers $PROXY_PORT; fi
    for concurrency in 1 8 64; do load "$mode" "$concurrency" "$(chat $PROXY_PORT)"; done
    stop_proxy "$PROXY_PID"
done

if [ -n "${STEWARD_POSTGRES:-}" ]; then
    schema="steward_loadtest_$$"
    start_proxy $PROXY_PORT "postgres:$STEWARD_POSTGRES" --schema "$schema" --create
    first=$PROXY_PID
    start_proxy $PROXY2_PORT "postgres:$STEWARD_POSTGRES" --schema "$schema"
    second=$PROXY_PID
    start_customers $PROXY_PORT
    sleep 0.5 # the second process's facts follower sees the relationships
    for concurrency in 1 8 64; do
        load postgres-2 "$concurrency" "$(chat $PROXY_PORT),$(chat $PROXY2_PORT)"
    done
    stop_proxy "$first"
    stop_proxy "$second"
    psql "$STEWARD_POSTGRES" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 ||
        echo "drop schema $schema by hand (no psql here)" >&2
else
    echo "STEWARD_POSTGRES is not set: the PostgreSQL runs are skipped" >&2
fi

echo "== SQLite while a 20,000-record sweep runs and consent changes arrive ==" >&2
start_proxy $PROXY_PORT "sqlite:$OUT/proxy.db"
# The churned customer's 20,000 records, then the end of their relationship.
"$BIN/steward-loadgen" --url "$(chat $PROXY_PORT)" --customers $CHURN --concurrency 64 \
    --seconds 60 --max-requests 20000 --label seed-churn >>"$OUT/seed.jsonl"
post $PROXY_PORT /customers/end "{\"customer\":\"$CHURN\"}" >/dev/null
sleep 1.2 # past the one-second deletion window: every record of theirs is due
for concurrency in 8 64; do
    (
        sleep 0.5
        post $PROXY_PORT /admin/sweep '{}' >"$OUT/sweep-$concurrency.json"
    ) &
    sweeper=$!
    (
        # A consent change every 20 ms while the load runs.
        levels=(private shared none open-weight)
        end=$((SECONDS + SECONDS_PER_RUN))
        i=0
        while [ $SECONDS -lt $end ]; do
            customer=$(echo "$CUSTOMERS" | cut -d, -f$((i % 16 + 1)))
            post $PROXY_PORT /consent \
                "{\"customer\":\"$customer\",\"level\":\"${levels[$((i % 4))]}\"}" >/dev/null || true
            i=$((i + 1))
            sleep 0.02
        done
        echo "$i" >"$OUT/consent-changes-$concurrency"
    ) &
    changer=$!
    load "sqlite+sweep+consent" "$concurrency" "$(chat $PROXY_PORT)"
    wait $sweeper $changer
    echo "  sweep: $(cat "$OUT/sweep-$concurrency.json"); consent changes: $(cat "$OUT/consent-changes-$concurrency")" >&2
    # The second sweep finds nothing left: seed again for the next concurrency.
    if [ "$concurrency" = 8 ]; then
        CHURN=0192f1f0-6b2a-7cc3-9a4e-2f1d5c3bfffe
        post $PROXY_PORT /customers "{\"customer\":\"$CHURN\"}" >/dev/null
        "$BIN/steward-loadgen" --url "$(chat $PROXY_PORT)" --customers $CHURN --concurrency 64 \
            --seconds 60 --max-requests 20000 --label seed-churn >>"$OUT/seed.jsonl"
        post $PROXY_PORT /customers/end "{\"customer\":\"$CHURN\"}" >/dev/null
        sleep 1.2
    fi
done

echo "== SQLite while stewards open records in a loop ==" >&2
post $PROXY_PORT /stewards '{"steward":"sam.steward"}' >/dev/null
"$BIN/steward-loadgen" --url "$(chat $PROXY_PORT)" --customers "$CUSTOMERS" --concurrency 8 \
    --seconds 1 --max-requests 200 --ack-file "$OUT/open-ids" --label seed-open >>"$OUT/seed.jsonl"
for concurrency in 8 64; do
    (
        end=$((SECONDS + SECONDS_PER_RUN))
        opened=0
        while [ $SECONDS -lt $end ]; do
            for id in $(head -50 "$OUT/open-ids"); do
                post $PROXY_PORT /steward/open "{\"steward\":\"sam.steward\",\"purpose\":\"troubleshooting\",\"justification\":\"INC-2041 load test\",\"record\":\"$id\"}" >/dev/null || true
                opened=$((opened + 1))
                [ $SECONDS -lt $end ] || break
            done
        done
        echo "$opened" >"$OUT/opens-$concurrency"
    ) &
    opener=$!
    load "sqlite+steward-opens" "$concurrency" "$(chat $PROXY_PORT)"
    wait $opener
    echo "  steward opens during the run: $(cat "$OUT/opens-$concurrency")" >&2
done
stop_proxy "$PROXY_PID"

echo "== kill -9: every acknowledged request survives ==" >&2
rm -f "$OUT/acked-ids"
start_proxy $PROXY_PORT "sqlite:$OUT/proxy.db"
killed=$PROXY_PID
(sleep 1.5 && kill -9 "$killed") &
"$BIN/steward-loadgen" --url "$(chat $PROXY_PORT)" --customers "$CUSTOMERS" --concurrency 64 \
    --seconds 3 --max-requests 200000 --ack-file "$OUT/acked-ids" --label kill-9 \
    >>"$OUT/seed.jsonl" || true
wait "$killed" 2>/dev/null || true
"$BIN/steward-proxy" --store "sqlite:$OUT/proxy.db" --policy "$POLICY" \
    --verify-ids "$OUT/acked-ids" | tee "$OUT/kill-9.json"

python3 - "$RESULTS" "$OUT/kill-9.json" <<'EOF'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1])]
base = {r["concurrency"]: r for r in runs if r["label"] == "none"}
mem = {r["concurrency"]: r for r in runs if r["label"] == "memory"}
print("| run | concurrency | req/s | x baseline | x memory | p50 ms | p99 ms | max ms | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for r in runs:
    c = r["concurrency"]
    b = base.get(c, {}).get("rps") or 0
    m = mem.get(c, {}).get("rps") or 0
    ratio = lambda d: f'{r["rps"] / d:.2f}' if d else "-"
    print(f'| {r["label"]} | {c} | {r["rps"]:.0f} | {ratio(b)} | {ratio(m)} | {r["p50_ms"]} | {r["p99_ms"]} | {r["max_ms"]} | {r["errors"]} |')
kill = json.load(open(sys.argv[2]))
print(f'\nkill -9: {kill["acknowledged"]} acknowledged, {kill["found"]} found after restart, {kill["missing"]} missing')
EOF
