package metrics

import "time"

// ring is a fixed-capacity history: once full, each new sample replaces the
// oldest.
type ring struct {
	buf   []Sample
	start int // index of the oldest sample
	n     int
}

func newRing(capacity int) *ring { return &ring{buf: make([]Sample, capacity)} }

func (r *ring) add(s Sample) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = s
		r.n++
		return
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % len(r.buf)
}

// last returns the newest sample.
func (r *ring) last() (Sample, bool) {
	if r.n == 0 {
		return Sample{}, false
	}
	return r.buf[(r.start+r.n-1)%len(r.buf)], true
}

// since returns, oldest first, the samples taken after t (all when t is zero).
func (r *ring) since(t time.Time) []Sample {
	out := make([]Sample, 0, r.n)
	for i := range r.n {
		s := r.buf[(r.start+i)%len(r.buf)]
		if t.IsZero() || s.Time.After(t) {
			out = append(out, s)
		}
	}
	return out
}
