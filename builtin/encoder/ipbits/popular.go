package ipbits

// Popular addresses (package popular). Drawn bit by bit, an address the
// generator has not learned exactly comes out as a new address one or a
// few bits away from a real one, so a host that carries many flows in the
// real trace is smeared over many near-copies in the synthetic one and
// the popularity curve flattens (the default run's sample: 63 real
// addresses, 157 synthetic, 15% of synthetic records on addresses within
// 1–9 bits of a real one; docs/encoders.md). Addresses in at least
// min_flows distinct flows get a category each before the bits, and the
// bits carry only the tail. A rare address is never a category, so the
// synthetic trace reproduces an address only when many flows share it.
