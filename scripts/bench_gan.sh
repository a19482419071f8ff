#!/usr/bin/env bash
# bench_gan.sh: time netshare's DoppelGANger core against the PyTorch
# reference (../shared/bench/dg_reference.py) in one run, at 1 and 2 threads,
# with every thread pool pinned, and print ours/PyTorch ratios.
#
#   scripts/bench_gan.sh                 # default build: CGO_ENABLED=0, no tags
#   ITERS=10 THREADS="1" REPEAT=3 scripts/bench_gan.sh
#   BIN=/path/to/netshare scripts/bench_gan.sh   # skip the build
#   CLOCK=cpu THREADS=1 scripts/bench_gan.sh      # process CPU time on both
#                     sides: robust on a loaded machine, meaningful at 1 thread
#
# REPEAT runs each pair that many times (ours then the reference, back to
# back) and ends with the range of each ratio: on a shared machine one pair
# says little. The reference needs Debian's torch and an optimized BLAS
# under it: apt-get install -y python3-torch libopenblas0.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-/usr/bin/python3}
REF=${REF:-../shared/bench/dg_reference.py}
ITERS=${ITERS:-20}
THREADS=${THREADS:-"1 2"}
CLOCK=${CLOCK:-wall}
REPEAT=${REPEAT:-1}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${BIN:-}" ]; then # a prebuilt netshare binary
	cp "$BIN" "$tmp/netshare"
else
	CGO_ENABLED=0 go build -o "$tmp/netshare" ./host/cmd/netshare
fi

field() { # field NAME LINE: the value of NAME=value in LINE
	sed -n "s/.*[[:space:]]$1=\([0-9.]*\).*/\1/p" <<<" $2"
}

# Debian's torch takes its BLAS from the system's libblas.so.3. Where that is
# netlib's reference BLAS (no optimized BLAS installed), the reference runs
# ~10× slower (docs/gan.md, Zen 5) and a ratio against it means nothing.
refblas=$("$PY" -c 'import torch
torch.ones(64, 64) @ torch.ones(64, 64)
print(open("/proc/self/maps").read())' | grep -o '/[^ ]*blas[^ ]*\.so[^ ]*' | sort -u | tr '\n' ' ')
echo "reference BLAS: ${refblas:-none found}"
if [[ "$refblas" == */blas/libblas.so* ]]; then
	echo "warning: PyTorch is on netlib's reference BLAS; install libopenblas0 (apt-get install -y libopenblas0) for a fair reference" >&2
fi

for t in $THREADS; do
	# GOMAXPROCS for Go (also set by --threads), and torch's
	# OpenMP/OpenBLAS/MKL pools (the reference also sets these itself).
	export GOMAXPROCS=$t OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t MKL_NUM_THREADS=$t
	for r in $(seq "$REPEAT"); do
		ours=$("$tmp/netshare" bench gan --threads "$t" --iters "$ITERS" --clock "$CLOCK")
		if [ "$CLOCK" = cpu ]; then
			# the reference times with perf_counter; swap in process CPU time
			ref=$("$PY" -c 'import runpy, sys, time
time.perf_counter = time.process_time
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$REF" --threads "$t" --iters "$ITERS")
		else
			ref=$("$PY" "$REF" --threads "$t" --iters "$ITERS")
		fi
		echo "ours:    $ours"
		echo "pytorch: $ref"
		awk -v t="$t" -v om="$(field ms_per_iteration "$ours")" -v rm="$(field ms_per_iteration "$ref")" \
			-v og="$(field generation_records_per_s "$ours")" -v rg="$(field generation_records_per_s "$ref")" \
			-v c="$CLOCK" 'BEGIN { printf "clock=%s threads=%s ratio_ms_per_iteration=%.3f ratio_generation_records_per_s=%.3f (ours/PyTorch; goal <= 0.5 and >= 2)\n", c, t, om/rm, og/rg }' |
			tee -a "$tmp/ratios"
	done
done
# ranges over the repeats, per thread count
awk '{ split($2, t, "="); split($3, a, "="); split($4, b, "=")
	k = t[2]; if (!(k in n)) { lo1[k] = hi1[k] = a[2]; lo2[k] = hi2[k] = b[2] }
	n[k]++; lo1[k] = a[2] < lo1[k] ? a[2] : lo1[k]; hi1[k] = a[2] > hi1[k] ? a[2] : hi1[k]
	lo2[k] = b[2] < lo2[k] ? b[2] : lo2[k]; hi2[k] = b[2] > hi2[k] ? b[2] : hi2[k] }
	END { for (k in n) printf "threads=%s runs=%d ratio_ms_per_iteration=%s..%s ratio_generation_records_per_s=%s..%s\n", k, n[k], lo1[k], hi1[k], lo2[k], hi2[k] }' "$tmp/ratios"
