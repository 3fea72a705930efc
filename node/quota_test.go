package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

// quotaJSON is the quota routes' answer.
type quotaJSON struct {
	TeamID string `json:"team_id"`
	Team   struct {
		MaxSandboxes *int64   `json:"max_sandboxes"`
		MaxVCPUs     *float64 `json:"max_vcpus"`
		MaxMemoryMB  *int64   `json:"max_memory_mb"`
		MaxDiskMB    *int64   `json:"max_disk_mb"`
	} `json:"team"`
	Limits struct {
		MaxSandboxes int64   `json:"max_sandboxes"`
		MaxVCPUs     float64 `json:"max_vcpus"`
		MaxMemoryMB  int64   `json:"max_memory_mb"`
		MaxDiskMB    int64   `json:"max_disk_mb"`
	} `json:"limits"`
	Usage struct {
		Sandboxes int64   `json:"sandboxes"`
		VCPUs     float64 `json:"vcpus"`
		MemoryMB  int64   `json:"memory_mb"`
		DiskMB    int64   `json:"disk_mb"`
	} `json:"usage"`
}

func (a *api) quota(t testing.TB, path string, key ...string) quotaJSON {
	t.Helper()
	r := a.do(t, "GET", path, nil, key...)
	if r.status != 200 {
		t.Fatalf("GET %s: %s", path, r)
	}
	var q quotaJSON
	r.decode(t, &q)
	return q
}

func (a *api) setQuota(t testing.TB, team string, body map[string]any) quotaJSON {
	t.Helper()
	r := a.do(t, "PUT", "/v1/admin/teams/"+team+"/quota", body)
	if r.status != 200 {
		t.Fatalf("PUT quota %v: %s", body, r)
	}
	var q quotaJSON
	r.decode(t, &q)
	return q
}

// teamID returns the team a key acts for.
func (a *api) teamID(t testing.TB, key string) string {
	t.Helper()
	r := a.do(t, "GET", "/v1/me", nil, key)
	var me struct{ Team struct{ ID string } }
	r.decode(t, &me)
	if me.Team.ID == "" {
		t.Fatalf("/v1/me: %s", r)
	}
	return me.Team.ID
}

// refusedByQuota checks r is the quota's 429 with the message want.
func refusedByQuota(t testing.TB, r resp, want string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("create over the quota: %s, want 429", r)
	}
	e := r.apiErr(t)
	if e.Error.Code != "quota_exceeded" || e.Error.Message != want {
		t.Fatalf("create over the quota: %s, want quota_exceeded %q", r, want)
	}
	if ra := r.header.Get("Retry-After"); ra != "" {
		t.Fatalf("a quota refusal says Retry-After %s: retrying does not help until the team frees something", ra)
	}
}

// TestTeamQuota: an admin sets a team's quota; the team creates up to it, is
// refused with a 429 naming the quota, kills one and creates again; paused
// sandboxes count (so resume needs no check); the team sees its usage; the
// admin's own team is not affected; the change is audited.
func TestTeamQuota(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	admin := newAPI(n)
	key := admin.teamKey(t, "quota-team")
	team := admin.teamID(t, key)
	tc := &api{url: n.URL, key: key}

	q := admin.setQuota(t, team, map[string]any{"max_sandboxes": 2, "max_vcpus": 1.5})
	if q.Limits.MaxSandboxes != 2 || q.Limits.MaxVCPUs != 1.5 || q.Team.MaxMemoryMB != nil ||
		q.Limits.MaxMemoryMB != n.Config.Limits.Team.MemoryMB || q.Usage.Sandboxes != 0 {
		t.Fatalf("after PUT: %+v", q)
	}
	spec := map[string]any{"vcpus": 0.5, "memory_mb": 64}
	first := tc.create(t, spec)
	second := tc.create(t, spec)
	refusedByQuota(t, tc.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024, "vcpus": 0.5}),
		"team quota: sandboxes 2 of 2 in use; this sandbox asks 1")
	q = tc.quota(t, "/v1/team/quota")
	if q.TeamID != team || q.Usage.Sandboxes != 2 || q.Usage.VCPUs != 1 || q.Usage.MemoryMB != 128 || q.Usage.DiskMB != 2048 {
		t.Fatalf("the team's view: %+v", q)
	}
	// The refusal left no row behind.
	r := tc.do(t, "GET", "/v1/sandboxes?limit=200", nil)
	var list struct{ Items []sandboxJSON }
	r.decode(t, &list)
	if len(list.Items) != 2 {
		t.Fatalf("the team's sandboxes after a refused create: %s", r)
	}

	if r := tc.do(t, "DELETE", "/v1/sandboxes/"+first.ID, nil); r.status != 200 {
		t.Fatalf("kill: %s", r)
	}
	third := tc.create(t, spec)

	// A paused sandbox still counts; resuming it needs no check.
	if r := tc.do(t, "POST", "/v1/sandboxes/"+second.ID+"/pause", nil); r.status != 200 {
		t.Fatalf("pause: %s", r)
	}
	refusedByQuota(t, tc.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024, "vcpus": 0.5}),
		"team quota: sandboxes 2 of 2 in use; this sandbox asks 1")
	if r := tc.do(t, "POST", "/v1/sandboxes/"+second.ID+"/resume", nil); r.status != 200 {
		t.Fatalf("resume: %s", r)
	}

	// Raise the count; now vCPUs are the limit.
	admin.setQuota(t, team, map[string]any{"max_sandboxes": 5, "max_vcpus": 1.5})
	tc.create(t, spec)
	refusedByQuota(t, tc.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024, "vcpus": 0.5}),
		"team quota: vcpus 1.5 of 1.5 in use; this sandbox asks 0.5")
	if out := tc.sh(t, third.ID, "echo alive"); out != "alive\n" {
		t.Fatalf("a sandbox of the full team: %q", out)
	}

	// The admin's own team is not held by the other team's quota.
	admin.create(t, spec)

	// Back to the defaults: the team creates again.
	q = admin.setQuota(t, team, map[string]any{})
	if q.Team.MaxSandboxes != nil || q.Limits.MaxSandboxes != n.Config.Limits.Team.Sandboxes || q.Usage.Sandboxes != 3 {
		t.Fatalf("after clearing: %+v", q)
	}
	tc.create(t, spec)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var audited int
	if err := n.Store().Pool.QueryRow(ctx, "SELECT count(*) FROM audit_logs WHERE action = 'team.quota.set' AND resource_id = $1", team).Scan(&audited); err != nil || audited != 3 {
		t.Fatalf("audit rows for the quota changes: %d %v, want 3", audited, err)
	}
}

// TestTeamQuotaBadInput: the quota routes refuse bad input with a 4xx
// naming the field, unknown teams with 404, team keys with 403.
func TestTeamQuotaBadInput(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	admin := newAPI(n)
	key := admin.teamKey(t, "quota-bad")
	team := admin.teamID(t, key)
	for _, tc := range []struct {
		body        string
		status      int
		field, text string
	}{
		{`{"max_sandboxes":-1}`, 400, "max_sandboxes", "must be between 0"},
		{`{"max_vcpus":-0.5}`, 400, "max_vcpus", "must be between 0"},
		{`{"max_memory_mb":-1}`, 400, "max_memory_mb", "must be between 0"},
		{`{"max_disk_mb":-1}`, 400, "max_disk_mb", "must be between 0"},
		{`{"max_disk_mb":2147483648}`, 400, "max_disk_mb", "must be between 0"},
		{`{"max_vcpus":1e7}`, 400, "max_vcpus", "must be between 0"},
		{`{"max_sandboxes":1.5}`, 400, "max_sandboxes", ""},
		{`{"max_sandboxes":"3"}`, 400, "max_sandboxes", ""},
		{`{"max_sandboxes":1e400}`, 400, "max_sandboxes", ""},
		{`{"sandboxes":3}`, 400, "sandboxes", "unknown field"},
		{`[]`, 400, "", ""},
		{``, 400, "", ""},
	} {
		r := admin.do(t, "PUT", "/v1/admin/teams/"+team+"/quota", []byte(tc.body))
		if r.status != tc.status {
			t.Errorf("PUT %s: %s, want %d", tc.body, r, tc.status)
			continue
		}
		e := r.apiErr(t)
		if e.Error.Field != tc.field || !strings.Contains(e.Error.Message, tc.text) {
			t.Errorf("PUT %s: %s, want field %q and %q", tc.body, r, tc.field, tc.text)
		}
	}
	if q := admin.quota(t, "/v1/admin/teams/"+team+"/quota"); q.Team.MaxSandboxes != nil || q.Team.MaxDiskMB != nil {
		t.Fatalf("bad input changed the quota: %+v", q)
	}
	unknown := "team-00000000-0000-0000-0000-0000000000aa"
	for _, c := range []struct {
		method, path string
		body         any
		key          string
		status       int
	}{
		{"GET", "/v1/admin/teams/" + unknown + "/quota", nil, "", 404},
		{"PUT", "/v1/admin/teams/" + unknown + "/quota", map[string]any{"max_sandboxes": 1}, "", 404},
		{"GET", "/v1/admin/teams/not-a-team/quota", nil, "", 400},
		{"PUT", "/v1/admin/teams/usr-00000000-0000-0000-0000-000000000001/quota", map[string]any{}, "", 400},
		{"PUT", "/v1/admin/teams/team-00000000-0000-0000-0000-000000000000/quota", map[string]any{"max_sandboxes": 1}, "", 400},
		{"PUT", "/v1/admin/teams/" + team + "/quota", map[string]any{"max_sandboxes": 100}, key, 403},
		{"GET", "/v1/admin/teams/" + team + "/quota", nil, key, 403},
		{"GET", "/v1/team/quota", nil, "wk_not-a-key", 401},
	} {
		var r resp
		if c.key != "" {
			r = admin.do(t, c.method, c.path, c.body, c.key)
		} else {
			r = admin.do(t, c.method, c.path, c.body)
		}
		if r.status != c.status {
			t.Errorf("%s %s: %s, want %d", c.method, c.path, r, c.status)
			continue
		}
		r.apiErr(t)
	}
}

// TestTeamQuotaFlagsValidated: negative operator defaults are refused
// naming the flag; the defaults pass.
func TestTeamQuotaFlagsValidated(t *testing.T) {
	t.Parallel()
	cfg := node.DefaultConfig()
	cfg.Dev, cfg.DataDir = true, t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cfg.Limits.Team.VCPUs, cfg.Limits.Team.DiskMB = -1, -5
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "--team-max-vcpus: must be between 0") || !strings.Contains(err.Error(), "--team-max-disk-mb: must be between 0") {
		t.Fatalf("negative team defaults: %v", err)
	}
}

// TestTeamQuotaAcrossNodes: a team's burst of creates sent to two nodes of
// one cluster at once gets exactly its quota, wherever the sandboxes land.
func TestTeamQuotaAcrossNodes(t *testing.T) {
	dbURL := storetest.NewDatabase(t)
	key := cluster.GenerateKey()
	s1 := nodetest.Start(t, nodetest.WithDatabase(dbURL), nodetest.WithCluster(key, true, 1))
	c1 := nodetest.Start(t, nodetest.WithDatabase(dbURL), nodetest.WithCluster(key, false, 0, s1.GossipAddr()))
	admin := newAPI(s1)
	eventually(t, 30*time.Second, "2 alive members", func() bool {
		var v nodesJSON
		admin.do(t, "GET", "/v1/admin/nodes", nil).decode(t, &v)
		alive := 0
		for _, m := range v.Nodes {
			if m.Status == "alive" {
				alive++
			}
		}
		return alive == 2 && v.Leader != nil
	})
	teamKey := admin.teamKey(t, "quota-cluster")
	team := admin.teamID(t, teamKey)
	const quota, perNode = 4, 5
	admin.setQuota(t, team, map[string]any{"max_sandboxes": quota})

	var (
		mu      sync.Mutex
		created []clusterSandbox
		refused int
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for _, n := range []*nodetest.Node{s1, c1} {
		via := &api{url: n.URL, key: teamKey}
		for range perNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, err := via.try("POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024, "memory_mb": 64, "vcpus": 0.25})
				mu.Lock()
				defer mu.Unlock()
				var e errBody
				switch {
				case err != nil:
					t.Errorf("create via %s: %v", n.ID, err)
				case r.status == http.StatusCreated:
					var sb clusterSandbox
					_ = json.Unmarshal(r.body, &sb)
					created = append(created, sb)
				case r.status == http.StatusTooManyRequests && json.Unmarshal(r.body, &e) == nil && e.Error.Code == "quota_exceeded":
					refused++
				default:
					t.Errorf("create via %s: %s", n.ID, r)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	tc := &api{url: s1.URL, key: teamKey}
	t.Cleanup(func() {
		for _, sb := range created {
			_, _ = tc.try("DELETE", "/v1/sandboxes/"+sb.ID, nil)
		}
	})
	on := map[string]int{}
	for _, sb := range created {
		on[sb.NodeID]++
	}
	t.Logf("%d creates over 2 nodes against a quota of %d: %d created (per node %v), %d refused", 2*perNode, quota, len(created), on, refused)
	if len(created) != quota || refused != 2*perNode-quota {
		t.Fatalf("%d created, %d refused; want %d and %d", len(created), refused, quota, 2*perNode-quota)
	}
	if q := (&api{url: c1.URL, key: teamKey}).quota(t, "/v1/team/quota"); q.Usage.Sandboxes != quota {
		t.Fatalf("usage seen through the other node: %+v", q.Usage)
	}
}

// TestTeamQuotaExemptsBuilds: a team at its quota still runs template
// builds; build sandboxes are neither checked nor counted.
func TestTeamQuotaExemptsBuilds(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t)
	admin := newAPI(n)
	team := admin.teamID(t, n.APIKey)
	admin.setQuota(t, team, map[string]any{"max_sandboxes": 1})
	admin.create(t, map[string]any{"memory_mb": 64})
	refusedByQuota(t, admin.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024}),
		"team quota: sandboxes 1 of 1 in use; this sandbox asks 1")
	bc := newBClient(n)
	b := bc.submit(t, map[string]any{"name": "over-quota", "disk_size_mb": 1024, "recipe": []string{"true"}})
	bc.finish(t, b.ID, "succeeded", 3*time.Minute)
	if q := admin.quota(t, "/v1/team/quota"); q.Usage.Sandboxes != 1 {
		t.Fatalf("usage after a build: %+v", q.Usage)
	}
}
