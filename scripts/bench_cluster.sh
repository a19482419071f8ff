#!/usr/bin/env bash
# Wall time of the chunk phase (train chunk 0, then fine-tune the others in
# parallel) of a multi-chunk pipeline on a Temporal dev server, with 1, 2,
# ... worker processes of one thread each (GOMAXPROCS=1), the speed-ups
# over one worker, and the bytes each chunk activity read (its checked-out
# files, from the workers' logs). Needs the temporal CLI:
#   go install github.com/temporalio/cli/cmd/temporal@v1.5.1
# Knobs: CHUNKS (default 5), STEPS (chunk 0's steps, default 600),
# WORKERS (worker counts to run, default "1 2").
set -euo pipefail
cd "$(dirname "$0")/.."
CHUNKS=${CHUNKS:-5}
STEPS=${STEPS:-600}
WORKERS=${WORKERS:-"1 2"}

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

declare -A chunk0 finetune generate
for n in $WORKERS; do
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
  gline=$(grep '^generation:' <<<"$out" || true)
  echo "$n worker(s): $gline"
  generate[$n]=$(sed -E 's/.*in ([^ ]+) on the workers.*/\1/' <<<"$gline")
  for p in "${wp[@]}"; do kill "$p"; done
done

secs() { python3 -c 'import re,sys; s=sys.argv[1]; u={"h":3600,"m":60,"s":1,"ms":1e-3,"µs":1e-6}; print(sum(float(v)*u[k] for v,k in re.findall(r"([0-9.]+)(ms|µs|h|m|s)", s)))' "$1"; }
args=()
for n in $WORKERS; do args+=("$n" "$(secs "${chunk0[$n]}")" "$(secs "${finetune[$n]}")" "$(secs "${generate[$n]:-0s}")"); done
echo "bytes each chunk activity read (checked-out files: its tensors, the chunk plan, chunk 0's newest checkpoint, its own):"
grep -h 'netshare.TrainChunk chunk\|netshare.GenerateChunk chunk' "$tmp"/worker-*.log | sed -E 's/^run [^:]+: //; s/ bytes: .*/ bytes/' | sort -u | sort -t' ' -k3,3n | sed 's/^/  /'
python3 - "$CHUNKS" "${args[@]}" <<'PY'
import os, sys
chunks = int(sys.argv[1])
rows = [(int(sys.argv[i]), float(sys.argv[i+1]), float(sys.argv[i+2]), float(sys.argv[i+3])) for i in range(2, len(sys.argv), 4)]
print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (other processes slow the many-worker cases most)")
print(f"chunks: {chunks} (chunk 0 then {chunks-1} fine-tuned in parallel), one thread per worker")
_, c1, f1, g1 = rows[0]
for n, c, f, g in rows:
    print(f"{n} worker(s): chunk phase {c+f:7.2f} s (chunk 0 {c:6.2f} s, fine-tune {f:6.2f} s), generation {g:6.2f} s; "
          f"speed-up over {rows[0][0]}: chunk phase {(c1+f1)/(c+f):.2f}x, fine-tune {f1/f:.2f}x, generation {g1/g if g else 0:.2f}x")
PY
