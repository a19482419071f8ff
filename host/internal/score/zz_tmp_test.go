package score

import (
	"context"
	"syscall"
	"testing"
	"time"
)

func cpu() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

func TestTmpPerMetric(t *testing.T) {
	real, syn := flowTable(1_000_000, 1), flowTable(1_000_000, 2)
	metrics, _ := DefaultMetrics(real)
	h := host(t)
	Run(context.Background(), h, real, syn, metrics[4:5], Options{})
	for _, m := range metrics[5:10] {
		start := cpu()
		if _, err := Run(context.Background(), h, real, syn, []Metric{m}, Options{}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%-40.40s cpu %v", m, cpu()-start)
	}
}
