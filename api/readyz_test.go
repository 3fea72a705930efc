package api

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/warrenhq/warren/store/storetest"
)

// TestReadyzSaysWhatItWaitsFor: a node waiting for something answers 503
// naming it; a degraded one answers 200 naming what it serves without; a
// ready one answers 200 with neither.
func TestReadyzSaysWhatItWaitsFor(t *testing.T) {
	var mu sync.Mutex
	waiting, degraded := "base template (built by node-x)", ""
	cfg := DefaultConfig()
	cfg.Readiness = func() (string, string) {
		mu.Lock()
		defer mu.Unlock()
		return waiting, degraded
	}
	srv := New(cfg, storetest.New(t), slog.New(slog.DiscardHandler), nil, nil, nil, nil)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &env{t: t, http: hs}
	check := func(w, d string, status int, wantStatus string, ready bool) {
		t.Helper()
		mu.Lock()
		waiting, degraded = w, d
		mu.Unlock()
		r := e.do("GET", "/readyz", "", nil)
		var body healthResponse
		r.json(t, &body)
		if r.status != status || body.Status != wantStatus || body.Ready == nil || *body.Ready != ready ||
			body.WaitingFor != w || body.Degraded != d {
			t.Fatalf("readyz with waiting %q, degraded %q: %d %s", w, d, r.status, r.body)
		}
		if (status == http.StatusServiceUnavailable) != (r.header.Get("Retry-After") != "") {
			t.Fatalf("readyz %d: Retry-After %q", r.status, r.header.Get("Retry-After"))
		}
	}
	check("base template (built by node-x)", "", http.StatusServiceUnavailable, "waiting", false)
	check("", "cluster quorum: no leader", http.StatusOK, "ready", true)
	check("", "", http.StatusOK, "ready", true)
}
