// Package timing records where one request spends its time: named phases
// (e.g. "disk", "netns", "runc") measured by the code doing them and carried
// to it in the request's context. A request with no Recorder in its context
// records nothing and pays one context lookup per phase.
//
// The REST API attaches a Recorder to every sandbox create and, when the
// client asks with the request header Warren-Timing: 1, answers the phases in
// a Server-Timing header (name;dur=milliseconds), which `warren bench`
// summarises per phase.
package timing

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Phase is one measured phase. Phases may overlap (the network namespace is
// made while the disk is), so their sum can exceed the request's time.
type Phase struct {
	Name string
	Dur  time.Duration
}

// Recorder collects the phases of one request. Safe for concurrent use; a
// nil *Recorder records nothing.
type Recorder struct {
	mu     sync.Mutex
	phases []Phase
}

type ctxKey struct{}

// With returns ctx carrying a new Recorder, and the Recorder.
func With(ctx context.Context) (context.Context, *Recorder) {
	r := &Recorder{}
	return context.WithValue(ctx, ctxKey{}, r), r
}

// From returns the Recorder ctx carries, or nil.
func From(ctx context.Context) *Recorder {
	r, _ := ctx.Value(ctxKey{}).(*Recorder)
	return r
}

// Start begins phase name in ctx's Recorder; calling the returned function
// ends it. Without a Recorder it returns a no-op.
func Start(ctx context.Context, name string) func() {
	return From(ctx).Start(name)
}

// Start begins phase name; calling the returned function (once) ends it.
func (r *Recorder) Start(name string) func() {
	if r == nil {
		return func() {}
	}
	t0 := time.Now()
	return func() { r.Add(name, time.Since(t0)) }
}

// Add records phase name as having taken d.
func (r *Recorder) Add(name string, d time.Duration) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.phases = append(r.phases, Phase{name, d})
	r.mu.Unlock()
}

// Phases returns the phases recorded so far, in the order they ended.
func (r *Recorder) Phases() []Phase {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Phase(nil), r.phases...)
}

// ServerTiming formats the phases as a Server-Timing header value:
// "name;dur=1.234, name;dur=0.5" (milliseconds, microsecond precision).
func (r *Recorder) ServerTiming() string {
	var b strings.Builder
	for i, p := range r.Phases() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteString(";dur=")
		b.WriteString(strconv.FormatFloat(float64(p.Dur.Microseconds())/1000, 'f', 3, 64))
	}
	return b.String()
}

// ParseServerTiming reads a Server-Timing header value into phases, skipping
// entries without a valid dur. Durations of a repeated name add up.
func ParseServerTiming(v string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, entry := range strings.Split(v, ",") {
		parts := strings.Split(strings.TrimSpace(entry), ";")
		name := strings.TrimSpace(parts[0])
		if name == "" {
			continue
		}
		for _, p := range parts[1:] {
			val, ok := strings.CutPrefix(strings.TrimSpace(p), "dur=")
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(val, 64)
			if err != nil || f < 0 {
				continue
			}
			out[name] += time.Duration(f * float64(time.Millisecond))
		}
	}
	return out
}

// Header is the request header a client sets (to "1") to get the
// Server-Timing answer.
const Header = "Warren-Timing"
