package memguard

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBudgetSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	page := int64(os.Getpagesize())
	statm := write("statm", "1000 256 100 5 0 123 0\n") // 256 pages resident
	mem := write("meminfo", "MemTotal: 16000000 kB\nMemAvailable:    4194304 kB\n")
	cgMax := write("cg2", "max\n")
	cgSmall := write("cg2small", "1073741824\n")
	cgV1Huge := write("cg1", "9223372036854771712\n")
	tests := []struct {
		name     string
		cgroups  []string
		meminfo  string
		limit    int64
		source   string
		reserve  int64
		reserved bool
	}{
		{"available memory", []string{cgMax}, mem, 4<<30 + 256*page, "available", 1 << 30, true},
		{"cgroup v2 limit", []string{cgSmall}, mem, 1 << 30, "cgroup", 2 << 30, false},
		{"v1 default is no limit", []string{cgV1Huge}, mem, 4<<30 + 256*page, "available", 1 << 20, true},
		{"nothing known", nil, filepath.Join(dir, "none"), math.MaxInt64, "no limit", 1 << 50, true},
	}
	defer func(m, s string, c []string) { procMeminfo, procStatm, cgroupFiles = m, s, c }(procMeminfo, procStatm, cgroupFiles)
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			procMeminfo, procStatm, cgroupFiles = tc.meminfo, statm, tc.cgroups
			b := Current()
			if b.Limit != tc.limit || !strings.Contains(b.Source, tc.source) {
				t.Fatalf("budget %d (%s), want %d (%s)", b.Limit, b.Source, tc.limit, tc.source)
			}
			err := Reserve("a test", tc.reserve)
			if tc.reserved != (err == nil) {
				t.Fatalf("reserving %d: %v", tc.reserve, err)
			}
			var me *Error
			if err != nil && (!errors.As(err, &me) || !strings.Contains(err.Error(), "a test needs about")) {
				t.Fatalf("error %v", err)
			}
		})
	}
}

func TestProject(t *testing.T) {
	defer func(m, s string, c []string) { procMeminfo, procStatm, cgroupFiles = m, s, c }(procMeminfo, procStatm, cgroupFiles)
	dir := t.TempDir()
	procStatm = filepath.Join(dir, "statm")
	os.WriteFile(procStatm, []byte("0 0\n"), 0o644)
	procMeminfo = filepath.Join(dir, "meminfo")
	os.WriteFile(procMeminfo, []byte("MemAvailable: 1048576 kB\n"), 0o644) // 1 GiB
	cgroupFiles = nil
	t.Setenv("GOMEMLIMIT", "")
	tests := []struct {
		name                      string
		grown, done, total, least int64
		fails                     bool
	}{
		{"fits", 100 << 20, 1, 5, 1, false},         // 400 MiB more
		{"does not fit", 100 << 20, 1, 20, 1, true}, // 1.9 GiB more
		{"too early to tell", 100 << 20, 1, 20, 2, false},
		{"done", 100 << 20, 20, 20, 1, false},
		{"shrinking", -5, 1, 20, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Project("reading x", tc.grown, tc.done, tc.total, tc.least)
			if (err != nil) != tc.fails {
				t.Fatalf("got %v, want failure %v", err, tc.fails)
			}
		})
	}
}
