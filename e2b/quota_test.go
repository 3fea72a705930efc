package e2b_test

import (
	"strings"
	"testing"
)

// A team at its quota gets E2B's 429 (the SDK's RateLimitError) with the
// quota named, not a 500; a kill frees the slot.
func TestCreateOverQuota(t *testing.T) {
	n, _ := mustNode(t)
	key := otherTeamKey(t, n)
	auth := map[string]string{"X-API-KEY": key}
	var q struct {
		TeamID string `json:"team_id"`
	}
	if st := call(t, "GET", n.URL+"/v1/team/quota", map[string]string{"Authorization": "Bearer " + key}, nil, &q); st != 200 || q.TeamID == "" {
		t.Fatalf("team quota: %d %+v", st, q)
	}
	admin := map[string]string{"Authorization": "Bearer " + n.APIKey}
	if st := call(t, "PUT", n.URL+"/v1/admin/teams/"+q.TeamID+"/quota", admin, map[string]any{"max_sandboxes": 1}, nil); st != 200 {
		t.Fatalf("set quota: %d", st)
	}
	var made []string
	t.Cleanup(func() { killAll(t, n, key, made) })
	var sb struct{ SandboxID string }
	if st := call(t, "POST", n.URL+"/v2/sandboxes", auth, map[string]any{"templateID": "base"}, &sb); st != 201 {
		t.Fatalf("first create: %d", st)
	}
	made = append(made, sb.SandboxID)
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if st := call(t, "POST", n.URL+"/v2/sandboxes", auth, map[string]any{"templateID": "base"}, &e); st != 429 || e.Code != 429 || !strings.Contains(e.Message, "quota: sandboxes") {
		t.Fatalf("create over the quota: %d %+v, want 429 naming the sandboxes quota", st, e)
	}
	if st := call(t, "DELETE", n.URL+"/sandboxes/"+sb.SandboxID, auth, nil, nil); st != 204 {
		t.Fatalf("kill: %d", st)
	}
	var again struct{ SandboxID string }
	if st := call(t, "POST", n.URL+"/v2/sandboxes", auth, map[string]any{"templateID": "base"}, &again); st != 201 {
		t.Fatalf("create after a kill: %d", st)
	}
	made = append(made, again.SandboxID)
}
