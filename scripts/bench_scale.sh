#!/usr/bin/env bash
# One machine, large traces: builds NetFlow CSVs of 1M and 10M records from
# the shared UGR'16 sample (scripts/make_large_netflow.py: time-shifted
# copies with jittered addresses) in a temporary directory, never in the
# repository, and runs read -> flows -> chunks -> encode on each with
# host/cmd/scalebench, which prints per stage the wall and CPU time, the
# records per second and the peak resident memory (VmHWM, reset per stage).
#
#   scripts/bench_scale.sh                 # 1M and 10M records
#   SIZES="1000000" scripts/bench_scale.sh # just 1M
#   KEEP=1 scripts/bench_scale.sh          # keep the CSVs (in $TMPDIR/netshare-scale)
#
# Knobs: SIZES (records, space-separated), CHUNKS (default 10), WORK (the
# temporary directory), PLUGIN_MIB (each plugin module's memory cap,
# default 0: [plugins] memory_mib's default, 1024 MiB, which the encoders'
# bounded fit state stays far below at any number of records). Results go
# to $WORK/scale-<records>.json too.
# The 10M CSV is about 0.8 GB and the run takes several minutes and a few
# GB of memory (see docs/cluster.md, "One machine, large traces").
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000000 10000000"}
CHUNKS=${CHUNKS:-10}
PLUGIN_MIB=${PLUGIN_MIB:-0}
WORK=${WORK:-${TMPDIR:-/tmp}/netshare-scale}
mkdir -p "$WORK"
if [ -z "${KEEP:-}" ]; then
	trap 'rm -f "$WORK"/ugr16-*.csv' EXIT
fi
go build -o "$WORK/scalebench" ./host/cmd/scalebench
for n in $SIZES; do
	csv="$WORK/ugr16-$n.csv"
	[ -s "$csv" ] || python3 scripts/make_large_netflow.py --records "$n" --out "$csv"
	echo "== $n records, $CHUNKS chunks"
	"$WORK/scalebench" -in "$csv" -chunks "$CHUNKS" -plugin-memory-mib "$PLUGIN_MIB" -json "$WORK/scale-$n.json"
done
