package bench

import (
	"math"
	"slices"
	"time"
)

// Stats summarizes one measurement's samples, in milliseconds. Errors counts
// the attempts that failed and so have no sample.
type Stats struct {
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	MinMS  float64 `json:"min_ms"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// Summarize computes Stats over samples with nearest-rank percentiles.
func Summarize(samples []time.Duration, errors int) Stats {
	s := Stats{Count: len(samples), Errors: errors}
	if len(samples) == 0 {
		return s
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var sum time.Duration
	for _, d := range sorted {
		sum += d
	}
	s.MinMS = ms(sorted[0])
	s.MaxMS = ms(sorted[len(sorted)-1])
	s.MeanMS = ms(sum / time.Duration(len(sorted)))
	s.P50MS = ms(percentile(sorted, 50))
	s.P90MS = ms(percentile(sorted, 90))
	s.P99MS = ms(percentile(sorted, 99))
	return s
}

// percentile is the nearest-rank p-th percentile of sorted (non-empty).
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// sampler collects one measurement's samples and failures; not safe for
// concurrent use (callers lock).
type sampler struct {
	samples []time.Duration
	errors  int
}

func (s *sampler) add(d time.Duration) { s.samples = append(s.samples, d) }
func (s *sampler) fail()               { s.errors++ }
func (s *sampler) stats() Stats        { return Summarize(s.samples, s.errors) }
