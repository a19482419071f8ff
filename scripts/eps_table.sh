#!/usr/bin/env bash
# eps_table.sh: the fidelity-vs-ε table of docs/privacy.md ("Fidelity
# against ε"). For each trace it builds the public prior (a run on public
# data without privacy), then trains on the private trace at ε = 1, 2, 4,
# 10 and ∞ (privacy off), each without and with the prior
# (privacy.pretrained), and with the prior and DP port histograms
# (privacy.marginals), every run for the same model.time_budget, and prints
# the scores each run's metrics.json holds as a Markdown table.
#
#   scripts/eps_table.sh [OUT_DIR]      (default /tmp/netshare-eps)
#
# Environment: BUDGET (model.time_budget of every run, default 20s), EPS
# (default "1 2 4 10 inf"), TRACES (default "ugr16 caida"), PRIORS
# (default "no yes marginals"), MARGINALS (default
# '["srcport","dstport","proto"]'), DATA (the shared data folder, default
# ../shared/data beside the repository).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/netshare-eps}
budget=${BUDGET:-20s}
eps_list=${EPS:-1 2 4 10 inf}
traces=${TRACES:-ugr16 caida}
# no: DP's data-independent encoders; yes: the public prior (encoders and
# model of the public run); marginals: the prior and DP port histograms.
priors=${PRIORS:-no yes marginals}
# The columns of privacy.marginals in the "marginals" runs.
marginals=${MARGINALS:-'["srcport","dstport","proto"]'}
data=${DATA:-$repo/../shared/data}
data=$(cd "$data" && pwd)
mkdir -p "$out"
(cd "$repo" && go build -o "$out/netshare" ./host/cmd/netshare)
ns=$out/netshare

# The private and public inputs of each trace, as TOML [input] sections.
input_ugr16_private="paths = [\"$data/flows/ugr16_netshare-small_1k.csv\"]"
# UGR'16's raw nfdump export of another week (docs/formats.md); its label
# column is the private sample's "type".
input_ugr16_public="paths = [\"$data/flows/ugr16_july-week5_first5k_nfdump-noheader.csv\"]
format = \"netflow-csv\"
[input.params]
header = false
time_format = \"2006-01-02 15:04:05\"
time_is = \"end\"
table = {ts = \"0\", td = \"1\", srcip = \"2\", dstip = \"3\", srcport = \"4\", dstport = \"5\", proto = \"6\", pkt = \"10\", byt = \"11\", type = \"12\"}"
input_caida_private="paths = [\"$data/pcap/caida_equinix-nyc_2018-03-15_10kpkts.pcapng\"]"
# The trace netshare generates itself: public by construction.
input_caida_public='paths = ["@sample"]'

# config NAME INPUT: a pipeline of one chunk trained for $budget.
config() {
	cat >"$out/$1.toml" <<EOF
seed = 1
run_dir = "runs/$1"
[input]
$2
[flows]
chunks = 1
[model]
time_budget = "$budget"
EOF
	echo "$out/$1.toml"
}

# run NAME INPUT SETS...: one run; its console goes to NAME.log.
run() {
	local name=$1 input=$2
	shift 2
	local cfg
	cfg=$(config "$name" "$input")
	local sets=()
	for s in "$@"; do sets+=(--set "$s"); done
	local start=$SECONDS
	if ! (cd "$out" && "$ns" run -c "$cfg" "${sets[@]}" >"$out/$name.log" 2>&1); then
		echo "$name failed (see $out/$name.log):" >&2
		tail -5 "$out/$name.log" >&2
		return 1
	fi
	echo "$name: $((SECONDS - start)) s" >&2
}

for trace in $traces; do
	priv_var=input_${trace}_private
	pub_var=input_${trace}_public
	run "$trace-public" "${!pub_var}"
	public=$out/runs/$trace-public
	# Without the prior, DP needs a fixed flow length: the public run's.
	maxlen=$(jq .max_len "$public/encoders.json")
	for eps in $eps_list; do
		for prior in $priors; do
			sets=()
			[ "$prior" != no ] && sets+=("privacy.pretrained=$public")
			[ "$prior" = marginals ] && sets+=("privacy.marginals=$marginals")
			if [ "$eps" != inf ]; then
				sets+=(privacy.enabled=true "privacy.epsilon=$eps")
				[ "$prior" = no ] && sets+=("flows.max_flow_len=$maxlen")
			elif [ "$prior" = marginals ]; then
				continue # histograms are released only under privacy
			fi
			run "$trace-eps$eps-prior$prior" "${!priv_var}" "${sets[@]}" || true
		done
	done
done

# The table: one row per run, the marginal scores and the flow-size
# (records per flow) distance, which depends on how a flow's records go
# together.
cols_flows="srcport_jsd dstport_jsd proto_jsd srcip_rank_jsd dstip_rank_jsd td_emd pkt_emd byt_emd type_jsd records_per_flow_emd protoxdstport_tvd dstportxpkt_tvd pktxbyt_tvd tdxpkt_tvd srcportxdstport_tvd protoxdstportxbyt_tvd"
cols_pcap="srcport_jsd dstport_jsd proto_jsd srcip_rank_jsd dstip_rank_jsd pkt_len_emd time_emd flow_size_emd protoxdstport_tvd dstportxpkt_len_tvd srcportxdstport_tvd protoxdstportxpkt_len_tvd flow_recordsxpkt_len_tvd flow_dstportxrecords_tvd"
{
	for trace in $traces; do
		cols=$cols_flows
		[ "$trace" = caida ] && cols=$cols_pcap
		echo
		echo "$trace, model.time_budget = $budget, flows.chunks = 1"
		echo
		printf '| ε | prior | steps |'
		for c in $cols; do printf ' %s |' "$c"; done
		echo
		printf '|---|---|---|'
		for c in $cols; do printf -- '---|'; done
		echo
		for eps in $eps_list; do
			for prior in $priors; do
				dir=$out/runs/$trace-eps$eps-prior$prior
				label=$eps
				[ "$eps" = inf ] && label="∞"
				[ "$eps" = inf ] && [ "$prior" = marginals ] && continue
				if [ ! -f "$dir/metrics.json" ]; then
					echo "| $label | $prior | failed |"
					continue
				fi
				steps=$(grep -o 'so [0-9]* steps' "$out/$trace-eps$eps-prior$prior.log" | head -1 | cut -d' ' -f2)
				printf '| %s | %s | %s |' "$label" "$prior" "${steps:-?}"
				for c in $cols; do
					printf ' %s |' "$(jq -r --arg c "$c" '.metrics[$c] // "–" | if type == "number" then (. * 1000 | round / 1000) else . end' "$dir/metrics.json")"
				done
				echo
			done
		done
	done
} | tee "$out/table.md"
