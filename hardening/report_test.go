package hardening

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 90: 90 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond} {
		if got := Percentile(ds, p); got != want {
			t.Errorf("p%v = %s, want %s", p, got, want)
		}
	}
	if got := Percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %s", got)
	}
	if got := Percentile([]time.Duration{7}, 1); got != 7 {
		t.Errorf("p1 of one = %s", got)
	}
}

func TestTallySummary(t *testing.T) {
	tl := NewTally()
	tl.Record(Attack, "syscall", "mount", true)
	tl.Record(Attack, "syscall", "bpf", false)
	tl.Record(BadInput, "json", "{", true)
	tl.Leak("mount /x")
	tl.Rows(10, 1)
	tl.Latency("create", 20*time.Millisecond)
	tl.Note("load: %d answers", 3)
	if tl.Failed(Attack) != 1 || tl.Failed(BadInput) != 0 || tl.RowsLost() != 1 || len(tl.Leaks()) != 1 {
		t.Fatalf("counts: %d %d %d %v", tl.Failed(Attack), tl.Failed(BadInput), tl.RowsLost(), tl.Leaks())
	}
	s := tl.Summary()
	for _, want := range []string{
		"attacks:    tried     2, blocked     1, failed 1",
		"bad inputs: tried     1, rejected cleanly     1, failed 0",
		"faults:     tried     0",
		"leaked:     1", "rows lost:  1 of 10 rows checked",
		"latency create   n=1", "load: 3 answers", "attacks/syscall 1/2",
		"FAILED attacks: syscall: bpf", "LEAKED mount /x",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}
