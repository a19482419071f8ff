#!/usr/bin/python3
"""What a model that does not memorise can score: the real trace with its
rare values swapped between flows.

usage:
  rare_shuffle.py PCAP [--column dstport] [--min-flows 5] [--seeds 3]
                  [--bench ../shared/bench]

A value of COLUMN held by fewer than MIN_FLOWS distinct flows (the word2vec
encoder's `min_flows`, docs/encoders.md) is one a generator can only
reproduce exactly by remembering that particular flow. This script keeps
every real flow and record as it is and permutes those rare values among
the flows that hold them: the set of values and how many flows hold each
stay exact, and so does everything else; only which rare value goes with
which flow (and hence with its length, sizes and protocol) is lost. The
scores this "perfect model that does not memorise" gets are printed with
the same code as ../shared/bench/fidelity.py and joint.py (scipy, pandas),
against the naive sampler's. A target below them asks for memorisation
(docs/fidelity.md, "What exact-port targets ask for").

Needs tshark (Debian: tshark), python3-pandas, python3-scipy.
"""
import argparse
import ipaddress
import subprocess
import sys

import numpy as np
import pandas as pd

FIELDS = ["ip.src", "ip.dst", "tcp.srcport", "udp.srcport", "tcp.dstport",
          "udp.dstport", "ip.proto", "frame.time_epoch", "ip.len"]


def read_pcap(path):
    """Packets as fidelity.py's pcap CSV layout (IPv4 only)."""
    out = subprocess.run(["tshark", "-r", path, "-Y", "ip", "-T", "fields", "-E", "separator=,"]
                         + sum([["-e", f] for f in FIELDS], []),
                         check=True, capture_output=True, text=True).stdout
    rows = []
    for n, line in enumerate(out.splitlines(), 1):
        f = line.split(",")
        try:
            rows.append((int(ipaddress.ip_address(f[0])), int(ipaddress.ip_address(f[1])),
                         int(f[2] or f[3] or 0), int(f[4] or f[5] or 0), int(f[6]),
                         float(f[7]) * 1e6, int(f[8])))
        except (ValueError, IndexError) as e:
            sys.exit(f"{path}: packet {n}: {e}")
    return pd.DataFrame(rows, columns=["srcip", "dstip", "srcport", "dstport", "proto", "time", "pkt_len"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--column", default="dstport", choices=["srcport", "dstport"])
    ap.add_argument("--min-flows", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--bench", default="../shared/bench", help="folder of fidelity.py and joint.py")
    a = ap.parse_args()
    sys.path.insert(0, a.bench)
    import fidelity  # noqa: E402
    import joint  # noqa: E402

    real = read_pcap(a.pcap)
    fid = real.groupby(fidelity.KEY).ngroup().to_numpy()
    flows = pd.DataFrame({"fid": fid, "v": real[a.column].to_numpy()}).drop_duplicates("fid")
    held = flows.groupby("v").size()
    rare = flows[flows.v.map(held) < a.min_flows]
    print(f"{a.pcap}: {len(real)} records, {len(flows)} flows; {a.column}: {len(held)} values, "
          f"{(held < a.min_flows).sum()} in < {a.min_flows} flows, holding {len(rare) / len(flows):.1%} "
          f"of the flows and {real[a.column].map(held).lt(a.min_flows).mean():.1%} of the records")

    spec = {"proto": "raw", "dstport": "top", "srcport": "top", "pkt_len": "q"}
    groups = [["proto", "dstport"], ["dstport", "pkt_len"], ["srcport", "dstport"],
              ["proto", "dstport", "pkt_len"]]
    fspec = {"pkts": "q", "mean_len": "q", "dstport": "top"}
    fgroups = [["pkts", "mean_len"], ["dstport", "pkts"]]
    for seed in range(a.seeds):
        rng = np.random.default_rng(seed)
        swap = dict(zip(rare.fid, rng.permutation(rare.v.to_numpy())))
        syn = real.copy()
        syn[a.column] = [swap.get(f, v) for f, v in zip(fid, real[a.column])]
        jsd = fidelity.hist_jsd(real[a.column], syn[a.column], 65536)["jsd_squared"]
        res = joint.score(real, syn, spec, groups)
        res.update({"flow:" + k: v for k, v in
                    joint.score(joint.flow_table(real), joint.flow_table(syn), fspec, fgroups).items()})
        pairs = ", ".join(f"{k} {v['tvd']:.3f} (naive {v['naive_tvd']:.3f})" for k, v in res.items())
        print(f"seed {seed}: {a.column} JSD {jsd:.4f}; {pairs}")


if __name__ == "__main__":
    main()
