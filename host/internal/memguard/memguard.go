// Package memguard tells how much memory this process may use and stops a
// stage that would need more before it has taken it, with an error that
// says what needed how much: a run on a large trace then fails early and
// clearly, rather than being killed by the kernel's OOM killer half an
// hour in, or pushing the machine into swap.
//
// The budget is the smallest of GOMEMLIMIT (when set), the cgroup's memory
// limit (a container's, or a systemd slice's), and the memory available on
// the machine now (MemAvailable) plus what this process already holds, so
// memory other processes take counts as pressure too.
package memguard

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Budget is how much memory the process may hold in all, and what sets it.
type Budget struct {
	Limit  int64
	Source string
}

func (b Budget) String() string { return fmt.Sprintf("%s (%s)", Size(b.Limit), b.Source) }

// Paths read; variables so tests can point them at fixtures.
var (
	procMeminfo = "/proc/meminfo"
	procStatm   = "/proc/self/statm"
	cgroupFiles = []string{
		"/sys/fs/cgroup/memory.max",                   // cgroup v2
		"/sys/fs/cgroup/memory/memory.limit_in_bytes", // cgroup v1
	}
)

// Current returns the budget now. Unknown parts (another OS, no /proc) are
// skipped; with none known the budget is unlimited.
func Current() Budget {
	b := Budget{Limit: math.MaxInt64, Source: "no limit known"}
	lower := func(v int64, src string) {
		if v > 0 && v < b.Limit {
			b.Limit, b.Source = v, src
		}
	}
	if l := debug.SetMemoryLimit(-1); l < math.MaxInt64 && os.Getenv("GOMEMLIMIT") != "" {
		lower(l, "GOMEMLIMIT")
	}
	for _, f := range cgroupFiles {
		if raw, err := os.ReadFile(f); err == nil {
			s := strings.TrimSpace(string(raw))
			if v, err := strconv.ParseInt(s, 10, 64); err == nil && v < 1<<60 { // "max" or v1's huge default: none
				lower(v, "the cgroup's limit "+f)
			}
		}
	}
	if avail := meminfo("MemAvailable"); avail > 0 {
		lower(avail+InUse(), "memory available on the machine plus this process's")
	}
	return b
}

// InUse is this process's resident memory (0 where unknown).
func InUse() int64 {
	raw, err := os.ReadFile(procStatm)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

func meminfo(key string) int64 {
	raw, err := os.ReadFile(procMeminfo)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// Reserve checks that need more bytes fit in the budget beside what the
// process holds, before what is named takes them.
func Reserve(what string, need int64) error {
	b := Current()
	if b.Limit == math.MaxInt64 {
		return nil
	}
	used := InUse()
	if used+need <= b.Limit {
		return nil
	}
	return &Error{What: what, Need: need, Used: used, Budget: b}
}

// Project checks, part way through a stage that grows with its input,
// that the whole would fit: grown bytes were taken for done of total
// units (bytes read, records), so the rest takes grown·(total−done)/done
// more. Before minDone units the estimate is too rough and nothing is
// checked.
func Project(what string, grown, done, total, minDone int64) error {
	if done < minDone || done <= 0 || total <= done || grown <= 0 {
		return nil
	}
	rest := int64(float64(grown) * float64(total-done) / float64(done))
	return Reserve(what, rest)
}

// Error is a stage that would not fit.
type Error struct {
	What   string
	Need   int64
	Used   int64
	Budget Budget
}

func (e *Error) Error() string {
	free := max(0, e.Budget.Limit-e.Used)
	return fmt.Sprintf("not enough memory: %s needs about %s more, but the process holds %s of its %s, leaving %s "+
		"(fewer or smaller inputs, fewer records per chunk, a smaller flows.max_flow_len, or a machine or limit with more memory)",
		e.What, Size(e.Need), Size(e.Used), e.Budget, Size(free))
}

// SetSoftLimit makes the garbage collector keep the heap under a fraction
// of the budget, unless GOMEMLIMIT is set: by default Go lets the heap
// grow to twice what is live, and a large trace's records would double in
// resident memory for no use. It returns the limit set (0 if none).
func SetSoftLimit(fraction float64) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	b := Current()
	if b.Limit == math.MaxInt64 {
		return 0
	}
	l := int64(float64(b.Limit) * fraction)
	debug.SetMemoryLimit(l)
	return l
}

// Size writes a byte count for people.
func Size(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
