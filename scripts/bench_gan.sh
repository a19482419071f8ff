#!/usr/bin/env bash
# bench_gan.sh: time netshare's DoppelGANger core against the PyTorch
# reference (../shared/bench/dg_reference.py) in one run, at 1 and 2 threads,
# with every thread pool pinned, and print ours/PyTorch ratios.
#
#   scripts/bench_gan.sh                 # OpenBLAS build (needs libopenblas-dev)
#   TAGS= scripts/bench_gan.sh           # pure-Go gonum build
#   ITERS=10 THREADS="1" scripts/bench_gan.sh
#
# The reference needs Debian's torch: apt-get install -y python3-torch.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-/usr/bin/python3}
REF=${REF:-../shared/bench/dg_reference.py}
ITERS=${ITERS:-20}
THREADS=${THREADS:-"1 2"}
TAGS=${TAGS-openblas}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -tags "$TAGS" -o "$tmp/netshare" ./host/cmd/netshare

field() { # field NAME LINE: the value of NAME=value in LINE
	sed -n "s/.*[[:space:]]$1=\([0-9.]*\).*/\1/p" <<<" $2"
}

for t in $THREADS; do
	# GOMAXPROCS for Go, OpenBLAS's own pool (also set by --threads), and
	# torch's OpenMP/OpenBLAS/MKL pools (the reference also sets these itself).
	export GOMAXPROCS=$t OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t
	ours=$("$tmp/netshare" bench gan --threads "$t" --iters "$ITERS")
	ref=$("$PY" "$REF" --threads "$t" --iters "$ITERS")
	echo "ours:    $ours"
	echo "pytorch: $ref"
	awk -v t="$t" -v om="$(field ms_per_iteration "$ours")" -v rm="$(field ms_per_iteration "$ref")" \
		-v og="$(field generation_records_per_s "$ours")" -v rg="$(field generation_records_per_s "$ref")" \
		'BEGIN { printf "threads=%s ratio_ms_per_iteration=%.3f ratio_generation_records_per_s=%.3f (ours/PyTorch; goal <= 0.5 and >= 2)\n", t, om/rm, og/rg }'
done
