package main

import "github.com/netshare/netshare/host/internal/memguard"

// A soft memory limit at 90% of what the process may use (unless
// GOMEMLIMIT is set): the collector then works harder as a large trace's
// records fill memory, instead of letting the heap reach twice what is
// live, and the stages' own checks (memguard) fail early and clearly
// before the remaining tenth is gone.
func init() { memguard.SetSoftLimit(0.9) }
