#!/usr/bin/env python3
"""Build a large NetFlow CSV (NetShare's schema) from the shared UGR'16 sample.

    scripts/make_large_netflow.py --records 10000000 --out /tmp/ugr16-10M.csv

The source is ../shared/data/flows/ugr16_netshare-small_1k.csv (UGR'16 in
NetShare's schema: srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type).
The output is that file repeated as time-shifted copies until it has the
records asked for:

- copy c starts where copy c-1 ended (its records' ts shifted by c times
  the source's time span plus one second), so the output stays in time
  order and spans c times as long;
- each copy's addresses are jittered by a per-copy offset: the low 16
  bits of srcip and the low 8 bits of dstip (the /16 and /24 networks stay,
  so the address structure the encoders learn is the source's), so the
  copies' flows are distinct flows and the flow count grows with the
  records as in a longer capture;
- ports, protocol, duration, packets, bytes and labels are the source's.

The copies are seeded (--seed), so the same arguments give the same file.
The output must be outside the repository (a temporary directory): the
script refuses a path inside it, and the shared data is never copied into
the repository. Writing 10M records (about 0.8 GB) takes about a minute.
"""

import argparse
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_SOURCE = os.path.join(REPO, "..", "shared", "data", "flows", "ugr16_netshare-small_1k.csv")
HEADER = "srcip,dstip,srcport,dstport,proto,ts,td,pkt,byt,type"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, required=True, help="records to write")
    ap.add_argument("--out", required=True, help="output CSV, outside the repository")
    ap.add_argument("--source", default=DEFAULT_SOURCE, help="UGR'16 CSV in NetShare's schema")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.records <= 0:
        sys.exit("--records must be positive")
    out = os.path.realpath(a.out)
    if out == os.path.realpath(REPO) or out.startswith(os.path.realpath(REPO) + os.sep):
        sys.exit(f"{a.out} is inside the repository; write it to a temporary directory")

    with open(a.source, newline="") as f:
        lines = f.read().splitlines()
    if not lines or lines[0].strip() != HEADER:
        sys.exit(f"{a.source}: want the header {HEADER!r}")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        p = line.split(",")
        if len(p) != 10:
            sys.exit(f"{a.source}:{n}: want 10 fields, got {len(p)}")
        try:
            rows.append((int(p[0]), int(p[1]), p[2], p[3], p[4], float(p[5]), ",".join(p[6:])))
        except ValueError as e:
            sys.exit(f"{a.source}:{n}: {e}")
    rows.sort(key=lambda r: r[5])  # stable: ties keep file order
    t0, t1 = rows[0][5], rows[-1][5]
    shift = (t1 - t0) + 1e6  # ts is in microseconds

    rng = random.Random(a.seed)
    tmp = out + ".tmp"
    written = 0
    with open(tmp, "w", buffering=1 << 20) as w:
        w.write(HEADER + "\n")
        c = 0
        while written < a.records:
            so, do = rng.randrange(1 << 16), rng.randrange(1 << 8)
            dt = c * shift
            batch = []
            for src, dst, sp, dp, pr, ts, rest in rows[: a.records - written]:
                src = (src & 0xFFFF0000) | ((src + so) & 0xFFFF)
                dst = (dst & 0xFFFFFF00) | ((dst + do) & 0xFF)
                batch.append(f"{src},{dst},{sp},{dp},{pr},{ts + dt:.1f},{rest}\n")
            w.writelines(batch)
            written += len(batch)
            c += 1
    os.replace(tmp, out)
    print(f"{out}: {written} records, {c} copies of {len(rows)}, {os.path.getsize(out)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
