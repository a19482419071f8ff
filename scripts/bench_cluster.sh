#!/usr/bin/env bash
# Wall time of the chunk phase (train chunk 0, then fine-tune the others in
# parallel) of a multi-chunk pipeline on a Temporal dev server, with 1 and
# then 2 worker processes of one thread each (GOMAXPROCS=1), and the
# speed-up. Needs the temporal CLI:
#   go install github.com/temporalio/cli/cmd/temporal@v1.5.1
# Knobs: CHUNKS (default 5), STEPS (chunk 0's steps, default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
CHUNKS=${CHUNKS:-5}
STEPS=${STEPS:-600}

temporal=$(command -v temporal || true)
if [ -z "$temporal" ] && [ -x "$(go env GOPATH)/bin/temporal" ]; then temporal="$(go env GOPATH)/bin/temporal"; fi
if [ -z "$temporal" ]; then
  echo "bench_cluster: the temporal CLI is missing: go install github.com/temporalio/cli/cmd/temporal@v1.5.1" >&2
  exit 1
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/netshare" ./host/cmd/netshare

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(freeport)
"$temporal" server start-dev --headless --ip 127.0.0.1 --port "$port" --http-port "$(freeport)" \
  --metrics-port "$(freeport)" --log-level error >"$tmp/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  if "$temporal" operator namespace describe --namespace default --address "127.0.0.1:$port" >/dev/null 2>&1; then break; fi
  sleep 0.3
done

cat >"$tmp/bench.toml" <<TOML
seed = 11
[input]
paths = ["@sample"]
[flows]
chunks = $CHUNKS
[model]
attr_gen_units = 32
attr_gen_layers = 2
critic_units = 32
critic_layers = 2
attr_critic_units = 32
attr_critic_layers = 2
lstm_units = 16
sample_len = 8
batch_size = 64
critic_rounds = 1
steps = $STEPS
checkpoint_every = 100
finetune_fraction = 0.5
log_every = 20
[cluster]
engine = "temporal"
address = "127.0.0.1:$port"
TOML

declare -A chunk0 finetune
for n in 1 2; do
  art="$tmp/artifacts-$n"
  wp=()
  for i in $(seq "$n"); do
    GOMAXPROCS=1 "$tmp/netshare" worker -c "$tmp/bench.toml" -queue "bench-$n" -artifacts "$art" \
      -cache "$tmp/cache" -slots 1 >"$tmp/worker-$n-$i.log" 2>&1 &
    pids+=($!); wp+=($!)
  done
  sleep 1
  for p in "${wp[@]}"; do
    if ! kill -0 "$p" 2>/dev/null; then echo "bench_cluster: a worker exited:" >&2; cat "$tmp"/worker-$n-*.log >&2; exit 1; fi
  done
  out=$("$tmp/netshare" run -c "$tmp/bench.toml" -set "cluster.task_queue=bench-$n" -set "cluster.artifacts=$art" 2>"$tmp/run-$n.log")
  line=$(grep '^training:' <<<"$out")
  echo "$n worker(s): $line"
  chunk0[$n]=$(sed -E 's/.*chunk 0 in ([^,]+),.*/\1/' <<<"$line")
  finetune[$n]=$(sed -E 's/.*fine-tuning in ([^,]+),.*/\1/' <<<"$line")
  for p in "${wp[@]}"; do kill "$p"; done
done

secs() { python3 -c 'import re,sys; s=sys.argv[1]; u={"h":3600,"m":60,"s":1,"ms":1e-3,"µs":1e-6}; print(sum(float(v)*u[k] for v,k in re.findall(r"([0-9.]+)(ms|µs|h|m|s)", s)))' "$1"; }
python3 - "$(secs "${chunk0[1]}")" "$(secs "${finetune[1]}")" "$(secs "${chunk0[2]}")" "$(secs "${finetune[2]}")" "$CHUNKS" <<'PY'
import sys
c1, f1, c2, f2, chunks = map(float, sys.argv[1:])
import os
print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other processes slow the 2-worker case most)")
print(f"chunks: {int(chunks)} (chunk 0 then {int(chunks)-1} fine-tuned in parallel), one thread per worker")
print(f"1 worker : chunk phase {c1+f1:7.2f} s (chunk 0 {c1:6.2f} s, fine-tune {f1:6.2f} s)")
print(f"2 workers: chunk phase {c2+f2:7.2f} s (chunk 0 {c2:6.2f} s, fine-tune {f2:6.2f} s)")
print(f"speed-up : chunk phase {(c1+f1)/(c2+f2):.2f}x, fine-tune phase {f1/f2:.2f}x")
PY
