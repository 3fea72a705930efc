package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox/metrics"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
)

// fakeMetrics answers the metrics routes from fixed values and records the
// calls it got.
type fakeMetrics struct {
	err       error
	gotTeam   id.TeamID
	gotSince  time.Time
	gotNode   id.NodeID
	sample    metrics.Sample
	nodeCalls int
}

func (f *fakeMetrics) SandboxMetrics(_ context.Context, team id.TeamID, sb id.SandboxID, since time.Time) (SandboxMetricsView, error) {
	f.gotTeam, f.gotSince = team, since
	if f.err != nil {
		return SandboxMetricsView{}, f.err
	}
	return SandboxMetricsView{SandboxID: sb, IntervalSec: 5, Current: &f.sample}, nil // Series nil: answered as []
}

func (f *fakeMetrics) NodeMetrics(_ context.Context, node id.NodeID) (NodeMetricsView, error) {
	f.nodeCalls++
	f.gotNode = node
	if f.err != nil {
		return NodeMetricsView{}, f.err
	}
	return NodeMetricsView{NodeID: node}, nil
}

// metricsEnv is newEnv with the metrics routes configured.
func metricsEnv(t *testing.T, public bool) (*env, *fakeMetrics) {
	e := newEnv(t)
	fm := &fakeMetrics{sample: metrics.Sample{CPUPercent: 42}}
	cfg := DefaultConfig()
	cfg.Metrics, cfg.MetricsPublic = fm, public
	cfg.Prometheus = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintln(w, "up 1")
	})
	srv := New(cfg, e.st, slog.New(slog.NewTextHandler(e.logs, nil)), nil, nil, nil, nil)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e.srv, e.http = srv, hs
	return e, fm
}

func TestMetricsRoutes(t *testing.T) {
	e, fm := metricsEnv(t, false)
	team, key := e.newTeamWithKey("metrics")
	sb := id.NewSandboxID().String()

	r := e.do("GET", "/v1/sandboxes/"+sb+"/metrics?since=2026-01-02T03:04:05.5Z", key, nil)
	var v struct {
		Current *metrics.Sample  `json:"current"`
		Series  []metrics.Sample `json:"series"`
	}
	r.json(t, &v)
	if r.status != 200 || v.Current == nil || v.Current.CPUPercent != 42 || v.Series == nil {
		t.Fatalf("sandbox metrics: %d %s", r.status, r.body)
	}
	if fm.gotTeam != team || !fm.gotSince.Equal(time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC)) {
		t.Fatalf("called with team %s since %s", fm.gotTeam, fm.gotSince)
	}
	for _, bad := range []string{"yesterday", "2026-01-02", "1700000000"} {
		r := e.do("GET", "/v1/sandboxes/"+sb+"/metrics?since="+bad, key, nil)
		var body errorBody
		r.json(t, &body)
		if r.status != 400 || body.Error.Field != "since" {
			t.Fatalf("since=%s: %d %s", bad, r.status, r.body)
		}
	}
	if r := e.do("GET", "/v1/sandboxes/sb-x/metrics", key, nil); r.status != 400 {
		t.Fatalf("a malformed id: %d %s", r.status, r.body)
	}
	for err, want := range map[error]int{
		fmt.Errorf("sandbox %s: %w", sb, sandboxes.ErrNotFound):               404,
		fmt.Errorf("sandbox %s: %w: it is killed", sb, sandboxes.ErrConflict): 409,
		&sandboxes.UnavailableError{Message: "the node is not reachable"}:     503,
		fmt.Errorf("reading /sys/fs/cgroup/secret: boom"):                     500,
	} {
		fm.err = err
		r := e.do("GET", "/v1/sandboxes/"+sb+"/metrics", key, nil)
		if r.status != want {
			t.Errorf("%v: %d %s, want %d", err, r.status, r.body, want)
		}
		if want == 500 && (r.errCode() != "internal" || string(r.body) == "" || strings.Contains(string(r.body), "cgroup") || strings.Contains(string(r.body), "boom")) {
			t.Errorf("an internal error leaked: %s", r.body)
		}
	}
	fm.err = nil

	node := id.NewNodeID().String()
	if r := e.do("GET", "/v1/admin/nodes/"+node+"/metrics", key, nil); r.status != 403 || fm.nodeCalls != 0 {
		t.Fatalf("node metrics with a team key: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/v1/admin/nodes/"+node+"/metrics", e.admin.APIKey, nil); r.status != 200 || fm.gotNode.String() != node {
		t.Fatalf("node metrics: %d %s", r.status, r.body)
	}
	fm.err = fmt.Errorf("node %s: %w", node, store.ErrNotFound)
	if r := e.do("GET", "/v1/admin/nodes/"+node+"/metrics", e.admin.APIKey, nil); r.status != 404 {
		t.Fatalf("an unknown node: %d %s", r.status, r.body)
	}

	// /metrics: admins only.
	if r := e.do("GET", "/metrics", "", nil); r.status != 401 {
		t.Fatalf("/metrics without a key: %d", r.status)
	}
	if r := e.do("GET", "/metrics", key, nil); r.status != 403 {
		t.Fatalf("/metrics with a team key: %d", r.status)
	}
	if r := e.do("GET", "/metrics", e.admin.APIKey, nil); r.status != 200 || string(r.body) != "up 1\n" {
		t.Fatalf("/metrics as admin: %d %s", r.status, r.body)
	}
}

func TestMetricsOpenAPI(t *testing.T) {
	e, _ := metricsEnv(t, false)
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]any `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	e.do("GET", "/v1/openapi.json", "", nil).json(t, &doc)
	for _, p := range []string{"/v1/sandboxes/{id}/metrics", "/v1/admin/nodes/{id}/metrics", "/metrics"} {
		op, ok := doc.Paths[p]["get"]
		if !ok {
			t.Errorf("%s is not documented", p)
			continue
		}
		if _, ok := op.Responses["200"]; !ok {
			t.Errorf("%s documents no 200 answer: %+v", p, op.Responses)
		}
	}
	if _, ok := doc.Paths["/metrics"]["get"].Responses["200"].Content["text/plain"]; !ok {
		t.Errorf("/metrics is not documented as text/plain")
	}
}

func TestMetricsPublic(t *testing.T) {
	e, _ := metricsEnv(t, true)
	if r := e.do("GET", "/metrics", "", nil); r.status != 200 || string(r.body) != "up 1\n" {
		t.Fatalf("public /metrics: %d %s", r.status, r.body)
	}
	// Only /metrics is public: the JSON routes still need credentials.
	if r := e.do("GET", "/v1/admin/nodes/"+id.NewNodeID().String()+"/metrics", "", nil); r.status != 401 {
		t.Fatalf("node metrics without a key: %d", r.status)
	}
}
