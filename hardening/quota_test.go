package hardening_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// The PUT quota route's valid body, for the body mutations of
// TestAPIAbuseBodies.
func init() {
	baseBodies["PUT /v1/admin/teams/{id}/quota"] = map[string]any{"max_sandboxes": 10, "max_vcpus": 8, "max_memory_mb": 8192, "max_disk_mb": 102400}
}

// quotaReply is the part of a quota answer the attacks read.
type quotaReply struct {
	TeamID string `json:"team_id"`
	Limits struct {
		MaxSandboxes int64 `json:"max_sandboxes"`
	} `json:"limits"`
	Usage struct {
		Sandboxes int64 `json:"sandboxes"`
	} `json:"usage"`
}

func getQuota(t *testing.T, c *client, path string) quotaReply {
	t.Helper()
	r := c.do(t, "GET", path, nil)
	if r.status != 200 {
		t.Fatalf("GET %s: %s", path, r)
	}
	var q quotaReply
	r.decode(t, &q)
	return q
}

// burstCreates sends n creates at once and returns the IDs answered 201 and
// the number answered 429 quota_exceeded; any other answer fails t.
func burstCreates(t *testing.T, c *client, n int) ([]string, int) {
	t.Helper()
	var (
		mu      sync.Mutex
		ids     []string
		refused int
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := c.call("POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024, "memory_mb": 64, "vcpus": 0.25})
			mu.Lock()
			defer mu.Unlock()
			var e struct {
				Error struct{ Code, Message string }
			}
			switch {
			case err != nil:
				t.Errorf("burst create: %v", err)
			case r.status == http.StatusCreated:
				var sb sandboxJSON
				_ = json.Unmarshal(r.body, &sb)
				ids = append(ids, sb.ID)
			case r.status == http.StatusTooManyRequests && json.Unmarshal(r.body, &e) == nil && e.Error.Code == "quota_exceeded" &&
				strings.HasPrefix(e.Error.Message, "team quota: sandboxes "):
				refused++
			default:
				t.Errorf("burst create: %s", r)
			}
		}()
	}
	close(start)
	wg.Wait()
	t.Cleanup(func() {
		for _, id := range ids {
			c.kill(id)
		}
	})
	return ids, refused
}

// TestQuotaAttacks: a team bursting creates past its quota in parallel gets
// exactly the quota; pausing does not free quota; a team cannot raise its own
// quota through the admin routes with its key or its owner's session; a full
// team's usage does not hold another team (the control: the other team's own
// burst past the first team's limit all succeeds).
func TestQuotaAttacks(t *testing.T) {
	_, admin := startNode(t)
	a, b := newTeam(t, admin, "quota-a"), newTeam(t, admin, "quota-b")
	ca, cb := admin.withKey(a.key), admin.withKey(b.key)
	const quota, burst = 3, 12
	if r := admin.do(t, "PUT", "/v1/admin/teams/"+a.id+"/quota", map[string]any{"max_sandboxes": quota}); r.status != 200 {
		t.Fatalf("setting team a's quota: %s", r)
	}

	ids, refused := burstCreates(t, ca, burst)
	q := getQuota(t, ca, "/v1/team/quota")
	attack(t, "quota", fmt.Sprintf("burst of %d parallel creates past a quota of %d", burst, quota),
		len(ids) == quota && refused == burst-quota && q.Usage.Sandboxes == quota,
		fmt.Sprintf("%d created, %d refused, usage %d", len(ids), refused, q.Usage.Sandboxes))

	// Pausing one does not free its place.
	if r := ca.do(t, "POST", "/v1/sandboxes/"+ids[0]+"/pause", nil); r.status != 200 {
		t.Fatalf("pause: %s", r)
	}
	r := ca.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024, "memory_mb": 64})
	attack(t, "quota", "create after pausing a sandbox to free quota", r.status == 429 && r.clean4xx(), r)
	if r := ca.do(t, "POST", "/v1/sandboxes/"+ids[0]+"/resume", nil); r.status != 200 {
		t.Fatalf("resume within the quota: %s", r)
	}

	// Raising its own quota: with the team's key, with its owner's session
	// (CSRF token included), and another team's quota.
	raise := map[string]any{"max_sandboxes": 1000}
	r = ca.do(t, "PUT", "/v1/admin/teams/"+a.id+"/quota", raise)
	attack(t, "quota", "team key raises its own quota", r.status == 403 && r.clean4xx(), r)
	r = admin.withKey("").do(t, "PUT", "/v1/admin/teams/"+a.id+"/quota", raise, "Cookie", a.sess.cookie, "X-CSRF-Token", a.sess.csrf)
	attack(t, "quota", "team owner's session raises its own quota", r.status == 403 && r.clean4xx(), r)
	r = ca.do(t, "PUT", "/v1/admin/teams/"+a.id+"/quota", map[string]any{"max_sandboxes": nil})
	attack(t, "quota", "team key resets its own quota to the default", r.status == 403 && r.clean4xx(), r)
	r = ca.do(t, "PUT", "/v1/admin/teams/"+b.id+"/quota", map[string]any{"max_sandboxes": 0})
	attack(t, "quota", "team key changes another team's quota", r.status == 403 && r.clean4xx(), r)
	r = ca.do(t, "GET", "/v1/admin/teams/"+b.id+"/quota", nil)
	attack(t, "quota", "team key reads another team's quota", r.status == 403 && r.clean4xx(), r)
	r = ca.do(t, "GET", "/v1/team/quota", nil, "X-Warren-Team", b.id)
	var seen quotaReply
	_ = json.Unmarshal(r.body, &seen)
	attack(t, "quota", "team key reads another team's quota with X-Warren-Team", seen.TeamID != b.id, r)
	q = getQuota(t, admin, "/v1/admin/teams/"+a.id+"/quota")
	attack(t, "quota", "team a's quota after its attempts", q.Limits.MaxSandboxes == quota, q)
	r = ca.do(t, "POST", "/v1/sandboxes", map[string]any{"template": "base", "disk_size_mb": 1024, "memory_mb": 64})
	attack(t, "quota", "create after the attempts to raise the quota", r.status == 429 && r.clean4xx(), r)
	// Control: an admin's PUT on the same route works.
	if r := admin.do(t, "PUT", "/v1/admin/teams/"+a.id+"/quota", map[string]any{"max_sandboxes": quota}); r.status != 200 {
		t.Fatalf("control: the admin's PUT: %s", r)
	}

	// Team b, with the default quota, is not held by team a's usage: its
	// own parallel burst past team a's limit all succeeds.
	bIDs, bRefused := burstCreates(t, cb, quota+1)
	qb := getQuota(t, cb, "/v1/team/quota")
	attack(t, "quota", "a full team's usage holds another team", len(bIDs) == quota+1 && bRefused == 0 && qb.Usage.Sandboxes == quota+1,
		fmt.Sprintf("team b: %d created, %d refused, usage %d", len(bIDs), bRefused, qb.Usage.Sandboxes))

	// Killing one of team a's frees exactly one place.
	if r := ca.do(t, "DELETE", "/v1/sandboxes/"+ids[1], nil); r.status != 200 {
		t.Fatalf("kill: %s", r)
	}
	again, refusedAgain := burstCreates(t, ca, 4)
	attack(t, "quota", "burst after freeing one place", len(again) == 1 && refusedAgain == 3,
		fmt.Sprintf("%d created, %d refused", len(again), refusedAgain))
}

// TestQuotaBadInput: hostile values for the quota routes are refused with a
// 4xx naming the field, and change nothing.
func TestQuotaBadInput(t *testing.T) {
	_, admin := startNode(t)
	tm := newTeam(t, admin, "quota-bad")
	path := "/v1/admin/teams/" + tm.id + "/quota"
	for _, f := range []string{"max_sandboxes", "max_vcpus", "max_memory_mb", "max_disk_mb"} {
		for _, v := range []string{"-1", "-9223372036854775808", "9223372036854775807", "2147483648", "1e400", `"10"`, "true", "[]", "{}"} {
			r := admin.do(t, "PUT", path, `{"`+f+`":`+v+`}`)
			var e struct{ Error struct{ Field string } }
			_ = json.Unmarshal(r.body, &e)
			badInput(t, "quota", "PUT "+f+"="+v, r.status == 400 && r.clean4xx() && e.Error.Field == f, r)
		}
	}
	for _, v := range []string{"1.5", "0.5"} {
		for _, f := range []string{"max_sandboxes", "max_memory_mb", "max_disk_mb"} {
			r := admin.do(t, "PUT", path, `{"`+f+`":`+v+`}`)
			badInput(t, "quota", "PUT "+f+"="+v, r.status == 400 && r.clean4xx(), r)
		}
	}
	for _, c := range []struct{ what, method, path, body string }{
		{"unknown team", "PUT", "/v1/admin/teams/team-00000000-0000-0000-0000-0000000000ab/quota", `{"max_sandboxes":1}`},
		{"unknown team", "GET", "/v1/admin/teams/team-00000000-0000-0000-0000-0000000000ab/quota", ""},
		{"platform team", "PUT", "/v1/admin/teams/team-00000000-0000-0000-0000-000000000000/quota", `{"max_sandboxes":1}`},
		{"user ID for a team", "PUT", "/v1/admin/teams/usr-00000000-0000-0000-0000-000000000001/quota", `{}`},
		{"unknown field", "PUT", path, `{"max_sandboxes":1,"sandboxes":1000}`},
		{"array body", "PUT", path, `[{"max_sandboxes":1}]`},
		{"two objects", "PUT", path, `{"max_sandboxes":1}{"max_sandboxes":1000}`},
		{"NaN", "PUT", path, `{"max_vcpus":NaN}`},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := admin.do(t, c.method, c.path, body)
		badInput(t, "quota", c.what+" "+c.method+" "+c.path, r.clean4xx(), r)
	}
	q := getQuota(t, admin, path)
	badInput(t, "quota", "quota after the bad input", q.Limits.MaxSandboxes != 1 && q.Limits.MaxSandboxes != 1000, q)
}
