#!/usr/bin/env bash
# bench_decode.sh: how fast the pcap format plugin decodes captures,
# compared with tshark extracting the same fields from the same files.
#
#   scripts/bench_decode.sh [DIR_OR_FILES...]   (default: ../shared/data/pcap)
#
# Ours: the builtin Wasm module built from this tree (the committed
# builtin.wasm is left alone), driven by host/cmd/decodebench through the
# plugin protocol in 1 MiB pieces, each returned batch parsed on the host
# side; and the same decoder compiled natively. tshark: `tshark -n -T
# fields` with the fields of our records. Speeds are packets per CPU second
# (user + system): on a shared machine CPU time is far steadier than wall
# time. tshark's start-up (loading its dissectors, ~0.3 s) is measured on a
# one-packet capture of each file and subtracted, as our one-time module
# compilation is left out of ours: both are per-packet rates. The ratio
# with tshark's start-up included is printed too.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -eq 0 ]; then set -- ../shared/data/pcap; fi
files=()
for a in "$@"; do
	if [ -d "$a" ]; then
		for f in "$a"/*.pcap "$a"/*.pcapng; do [ -e "$f" ] && files+=("$f"); done
	else
		files+=("$a")
	fi
done
[ ${#files[@]} -gt 0 ] || { echo "bench_decode: no capture files" >&2; exit 1; }
command -v tshark >/dev/null || { echo "bench_decode: tshark not installed (apt-get install tshark)" >&2; exit 1; }
command -v editcap >/dev/null || { echo "bench_decode: editcap not installed (it comes with tshark)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building the plugin module and decodebench..." >&2
GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -o "$tmp/builtin.wasm" ./builtin/module
go build -o "$tmp/decodebench" ./host/cmd/decodebench
"$tmp/decodebench" -wasm "$tmp/builtin.wasm" -min-time 2s "${files[@]}" >"$tmp/wasm.tsv"
"$tmp/decodebench" -native -min-time 2s "${files[@]}" >"$tmp/native.tsv"

fields=(frame.time_epoch ip.src ip.dst ip.proto ip.len ip.dsfield ip.id ip.flags ip.frag_offset ip.ttl
	tcp.srcport tcp.dstport tcp.flags udp.srcport udp.dstport icmp.type icmp.code)
eargs=()
for f in "${fields[@]}"; do eargs+=(-e "$f"); done

# cpu FILE: least CPU seconds (user+sys) of 3 tshark runs.
cpu() {
	local best="" t
	for _ in 1 2 3; do
		t=$( { TIMEFORMAT='%U %S'; time tshark -n -r "$1" -T fields "${eargs[@]}" >/dev/null 2>&1; } 2>&1 | awk '{print $1 + $2}')
		if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$t; fi
	done
	echo "$best"
}

printf '%-45s %8s %12s %12s %12s %8s %8s %12s %8s\n' file packets tshark/s "tshark+start" wasm/s ratio "ratio+st" native/s ratio
tot_pkts=0 tot_ts=0 tot_ts_raw=0 tot_wasm=0 tot_nat=0
for f in "${files[@]}"; do
	name=$(basename "$f")
	editcap -r "$f" "$tmp/one" 1 >/dev/null 2>&1
	raw=$(cpu "$f")
	start=$(cpu "$tmp/one")
	read -r pkts wasm_cpu < <(awk -F'\t' -v n="$name" '$1 == n {print $2, $5}' "$tmp/wasm.tsv")
	nat_cpu=$(awk -F'\t' -v n="$name" '$1 == n {print $5}' "$tmp/native.tsv")
	awk -v name="$name" -v p="$pkts" -v raw="$raw" -v st="$start" -v w="$wasm_cpu" -v nt="$nat_cpu" 'BEGIN{
		ts = raw - st; if (ts <= 0) ts = 1e-9
		printf "%-45s %8d %12.0f %12.0f %12.0f %7.1fx %7.1fx %12.0f %7.1fx\n", name, p, p/ts, p/raw, p/w, ts/w, raw/w, p/nt, ts/nt
	}'
	tot_pkts=$(awk -v a="$tot_pkts" -v b="$pkts" 'BEGIN{print a + b}')
	tot_ts=$(awk -v a="$tot_ts" -v r="$raw" -v s="$start" 'BEGIN{print a + r - s}')
	tot_ts_raw=$(awk -v a="$tot_ts_raw" -v r="$raw" 'BEGIN{print a + r}')
	tot_wasm=$(awk -v a="$tot_wasm" -v b="$wasm_cpu" 'BEGIN{print a + b}')
	tot_nat=$(awk -v a="$tot_nat" -v b="$nat_cpu" 'BEGIN{print a + b}')
done
awk -v p="$tot_pkts" -v ts="$tot_ts" -v raw="$tot_ts_raw" -v w="$tot_wasm" -v nt="$tot_nat" 'BEGIN{
	printf "%-45s %8d %12.0f %12.0f %12.0f %7.1fx %7.1fx %12.0f %7.1fx\n", "ALL", p, p/ts, p/raw, p/w, ts/w, raw/w, p/nt, ts/nt
	printf "\nours (Wasm plugin) / tshark, packets per CPU second: %.1fx (%.1fx counting tshark start-up)\n", ts/w, raw/w
}'
