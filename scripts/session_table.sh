#!/usr/bin/env bash
# session_table.sh CAPTURE…: what tools that follow TCP connections see in
# each capture (docs/pcap.md, TCP sessions): tshark's TCP streams, how many
# start with a SYN, how many SYNs get a SYN-ACK, how many end with FIN or
# RST, tcptrace's connection verdicts, and tshark's tcp.analysis expert
# flags by kind. One tab-separated column per capture.
set -euo pipefail
for tool in tshark tcptrace; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
row() { printf '%s' "$1"; shift; printf '\t%s' "$@"; printf '\n'; }
declare -A val
keys=()
for f in "$@"; do
  # Per stream: first flags, a SYN then a SYN-ACK, a FIN or RST anywhere.
  while IFS='=' read -r k v; do
    val[$f,$k]=$v
    [[ " ${keys[*]} " == *" $k "* ]] || keys+=("$k")
  done < <(
    # Flags as 0/1 fields (mawk has no bit operations): syn ack fin rst.
    { tshark -r "$f" -Y tcp -T fields -e tcp.stream -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.fin -e tcp.flags.reset 2>/dev/null || true; } | awk '
      { s=$1; sy=($2=="1"||$2=="True"); ak=($3=="1"||$3=="True"); cl=($4=="1"||$4=="True"||$5=="1"||$5=="True")
        if (!(s in seen)) { seen[s]=1; n++; if (sy && !ak) st++ }
        if (sy && !ak) syn[s]=1
        if (sy && ak && (s in syn) && !(s in ans)) { ans[s]=1; na++ }
        if (cl && !(s in closed)) { closed[s]=1; nc++ } }
      END { printf "streams=%d\nstart with SYN=%d\nSYN answered by SYN-ACK=%d\nclosed by FIN/RST=%d\n", n, st, na, nc }'
    { tcptrace -n "$f" 2>/dev/null || true; } | awk '
      /^ *[0-9]+: / { n++; if (match($0, /\([a-z]+\)$/)) v[substr($0, RSTART+1, RLENGTH-2)]++; else v["other"]++ }
      END { printf "tcptrace complete=%d\ntcptrace reset=%d\ntcptrace unidirectional=%d\ntcptrace other=%d\n", v["complete"], v["reset"], v["unidirectional"], v["other"] }'
    { tshark -r "$f" -Y tcp.analysis.flags -T fields -e _ws.expert.message 2>/dev/null || true; } | tr ',' '\n' | awk '
      /retransmission/ { r++ } /out-of-order/ { o++ } /not captured/ { l++ } /ACKed segment that wasn.t captured/ { a++ }
      /Duplicate ACK/ { d++ } /window update/ { w++ } /same ports as an earlier/ { p++ } /Keep-Alive/ { k++ }
      /window is full/ { f++ } /Zero window/ { z++ } { t++ }
      END { printf "analysis: retransmission=%d\nanalysis: out-of-order=%d\nanalysis: lost segment=%d\nanalysis: ACKed unseen=%d\nanalysis: duplicate ACK=%d\nanalysis: window update=%d\nanalysis: window full/zero=%d\nanalysis: keep-alive=%d\nanalysis: port reuse=%d\n", r, o, l, a, d, w, f+z, k, p }')
done
row "" "$@"
for k in "${keys[@]}"; do
  vs=()
  for f in "$@"; do vs+=("${val[$f,$k]:-}"); done
  row "$k" "${vs[@]}"
done
