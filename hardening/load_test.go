package hardening_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// loadSeconds is the load test's duration: WARREN_LOAD_SECONDS, default 120.
func loadSeconds(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("WARREN_LOAD_SECONDS")
	if v == "" {
		return 120 * time.Second
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 3600 {
		t.Fatalf("WARREN_LOAD_SECONDS=%q: want 1-3600", v)
	}
	return time.Duration(n) * time.Second
}

// loadStats counts a load run's answers.
type loadStats struct {
	mu       sync.Mutex
	answers  map[string]int    // "create 201", "exec 503", …
	samples  map[string]string // the first answer of each kind
	bad      []string          // 5xx outside the declared capacity answers, transport errors
	created  []string          // IDs answered 201
	latency  map[string][]time.Duration
	killedOK int
}

func newLoadStats() *loadStats {
	return &loadStats{answers: map[string]int{}, samples: map[string]string{}, latency: map[string][]time.Duration{}}
}

// note records one answer; a 5xx is acceptable only as 503 or 429 with
// Retry-After (capacity), and when allow503 also covers the fault window.
func (s *loadStats) note(op string, r reply, err error, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.answers[op+" error"]++
		s.bad = append(s.bad, fmt.Sprintf("%s: %v", op, err))
		return
	}
	k := fmt.Sprintf("%s %d", op, r.status)
	s.answers[k]++
	if _, ok := s.samples[k]; !ok && r.status >= 300 {
		s.samples[k] = fmt.Sprintf("%s at %s", r, time.Now().Format("15:04:05.000"))
	}
	capacity := (r.status == 503 || r.status == 429) && r.header.Get("Retry-After") != "" && r.errShape()
	if r.status >= 500 && !capacity {
		s.bad = append(s.bad, fmt.Sprintf("%s: %s", op, r))
	}
	if r.status < 300 {
		s.latency[op] = append(s.latency[op], d)
	}
}

// runLoad runs clients that loop create → exec → kill until the deadline
// (or stop closes) and returns the counts.
func runLoad(c *client, clients int, d time.Duration, stop <-chan struct{}) *loadStats {
	st := newLoadStats()
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				s := time.Now()
				r, err := c.call("POST", "/v1/sandboxes", map[string]any{"template": "base", "memory_mb": 64, "disk_size_mb": 1024, "vcpus": 0.5,
					"metadata": map[string]string{"load-client": strconv.Itoa(i)}})
				st.note("create", r, err, time.Since(s))
				if err != nil || r.status != http.StatusCreated {
					time.Sleep(200 * time.Millisecond)
					continue
				}
				var sb sandboxJSON
				_ = json.Unmarshal(r.body, &sb)
				st.mu.Lock()
				st.created = append(st.created, sb.ID)
				st.mu.Unlock()
				s = time.Now()
				r, err = c.call("POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "echo hello from " + sb.ID, "timeout_sec": 60})
				st.note("exec", r, err, time.Since(s))
				// Kill until it is ended (a 503 during a fault is retried).
				for attempt := 0; attempt < 120; attempt++ {
					s = time.Now()
					r, err = c.call("DELETE", "/v1/sandboxes/"+sb.ID, nil)
					st.note("kill", r, err, time.Since(s))
					if err == nil && (r.status == 200 || r.status == 404 || r.status == 409) {
						if r.status == 200 {
							st.mu.Lock()
							st.killedOK++
							st.mu.Unlock()
						}
						break
					}
					time.Sleep(500 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return st
}

// TestLoad: one node, 50 clients creating, exec'ing and killing sandboxes
// for WARREN_LOAD_SECONDS (default 120). No 5xx but declared capacity
// answers; afterwards no host object remains beyond the baseline.
func TestLoad(t *testing.T) {
	n, c := startNode(t)
	prefix := hostPrefix(t, n.DataDir)
	base := snapshotHost(t, n.DataDir, prefix)
	d := loadSeconds(t)
	s := time.Now()
	st := runLoad(c, 50, d, nil)
	elapsed := time.Since(s)
	t.Logf("load: %s, answers %v, samples %v", elapsed, st.answers, st.samples)
	for _, b := range st.bad {
		t.Errorf("load: %s", b)
	}
	if len(st.created) == 0 {
		t.Fatal("load: no sandbox was created")
	}
	if st.killedOK != len(st.created) {
		t.Errorf("load: %d sandboxes created but %d killed", len(st.created), st.killedOK)
	}
	for op, ds := range st.latency {
		for _, x := range ds {
			tally.Latency(op, x)
		}
	}
	tally.Note("load: 50 clients for %s: %d creates, %d execs, %d kills answered 2xx; answers %v; %d unexpected",
		d, len(st.latency["create"]), len(st.latency["exec"]), len(st.latency["kill"]), st.answers, len(st.bad))
	checkNoLeaks(t, "load", n.DataDir, prefix, base)
	checkRows(t, n, st.created, "killed")
}
