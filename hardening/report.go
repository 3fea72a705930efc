package hardening

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kind is a category of the tally.
type Kind int

// The tally's categories, one summary line each.
const (
	Attack   Kind = iota // an escape attempt from inside a sandbox
	BadInput             // a malformed, hostile or unauthorized API request
	Fault                // an injected failure the node must survive
	numKinds
)

var kindNames = [numKinds][2]string{
	Attack:   {"attacks", "blocked"},
	BadInput: {"bad inputs", "rejected cleanly"},
	Fault:    {"faults", "survived"},
}

// Tally counts what the suite tried and how it went. It is safe for
// concurrent use; the zero value is not: use NewTally.
type Tally struct {
	mu        sync.Mutex
	tried     [numKinds]int
	held      [numKinds]int
	failures  [numKinds][]string
	byGroup   map[string][2]int // "kind/group" → tried, held
	leaks     []string
	rowsLost  int
	rowsCheck int
	latency   map[string][]time.Duration
	notes     []string
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{byGroup: map[string][2]int{}, latency: map[string][]time.Duration{}}
}

// Record counts one attempt of kind in group (e.g. "syscall", "json"): held
// says it was blocked, rejected cleanly or survived; what names it in the
// failure list otherwise.
func (t *Tally) Record(kind Kind, group, what string, held bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tried[kind]++
	key := kindNames[kind][0] + "/" + group
	g := t.byGroup[key]
	g[0]++
	if held {
		t.held[kind]++
		g[1]++
	} else {
		t.failures[kind] = append(t.failures[kind], group+": "+what)
	}
	t.byGroup[key] = g
}

// Leak records a host resource (mount, loop device, netns, process, …) left
// behind; what names it.
func (t *Tally) Leak(what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.leaks = append(t.leaks, what)
}

// Rows records a consistency check of checked rows of which lost were missing
// or duplicated.
func (t *Tally) Rows(checked, lost int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rowsCheck += checked
	t.rowsLost += lost
}

// Latency records one operation's duration (create, exec, kill, …).
func (t *Tally) Latency(op string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latency[op] = append(t.latency[op], d)
}

// Note adds a free-form line to the summary (e.g. the load test's counts).
func (t *Tally) Note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// Failed reports the number of attempts of kind that were not held.
func (t *Tally) Failed(kind Kind) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tried[kind] - t.held[kind]
}

// Leaks returns the recorded leaks.
func (t *Tally) Leaks() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.leaks)
}

// RowsLost returns the number of lost or duplicated rows.
func (t *Tally) RowsLost() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rowsLost
}

// Percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of ds,
// or 0 for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(rank, len(s)-1))]
}

// Summary renders the tally: one line per category, leaks, rows, latency
// percentiles per operation, the per-group breakdown and every failure.
func (t *Tally) Summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	b.WriteString("=== Warren adversarial suite: summary ===\n")
	for k := Kind(0); k < numKinds; k++ {
		fmt.Fprintf(&b, "%-11s tried %5d, %s %5d, failed %d\n", kindNames[k][0]+":", t.tried[k], kindNames[k][1], t.held[k], t.tried[k]-t.held[k])
	}
	fmt.Fprintf(&b, "%-11s %d\n", "leaked:", len(t.leaks))
	fmt.Fprintf(&b, "%-11s %d of %d rows checked\n", "rows lost:", t.rowsLost, t.rowsCheck)
	ops := make([]string, 0, len(t.latency))
	for op := range t.latency {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		ds := t.latency[op]
		fmt.Fprintf(&b, "latency %-8s n=%-5d p50 %-8s p90 %-8s p99 %-8s max %s\n", op, len(ds),
			round(Percentile(ds, 50)), round(Percentile(ds, 90)), round(Percentile(ds, 99)), round(Percentile(ds, 100)))
	}
	for _, n := range t.notes {
		b.WriteString(n + "\n")
	}
	groups := make([]string, 0, len(t.byGroup))
	for g := range t.byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	b.WriteString("by group:")
	for i, g := range groups {
		if i%4 == 0 {
			b.WriteString("\n ")
		}
		fmt.Fprintf(&b, " %s %d/%d", g, t.byGroup[g][1], t.byGroup[g][0])
	}
	b.WriteString("\n")
	for k := Kind(0); k < numKinds; k++ {
		for _, f := range t.failures[k] {
			fmt.Fprintf(&b, "FAILED %s: %s\n", kindNames[k][0], f)
		}
	}
	for _, l := range t.leaks {
		fmt.Fprintf(&b, "LEAKED %s\n", l)
	}
	return b.String()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d
}
