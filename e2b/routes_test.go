package e2b_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/store/db"
)

// TestRoutes exercises the routes the JS SDK 2.51.0 does not call (older
// SDKs and the raw API: v1 create, list, connect and resume, refreshes) and
// the list filters, over HTTP against a real node.
func TestRoutes(t *testing.T) {
	n, key := mustNode(t)
	u := n.URL
	auth := map[string]string{"X-API-KEY": key}
	var made []string
	t.Cleanup(func() { killAll(t, n, key, made) })

	type sandbox struct {
		SandboxID, TemplateID, Alias, ClientID, EnvdVersion, EnvdAccessToken, State string
		Domain                                                                      *string
		StartedAt, EndAt                                                            time.Time
		Metadata                                                                    map[string]string
		CPUCount, MemoryMB, DiskSizeMB                                              int
	}
	var v1 sandbox
	if st := call(t, "POST", u+"/sandboxes", auth, map[string]any{"templateID": "base", "metadata": map[string]string{"v": "1"}}, &v1); st != 201 {
		t.Fatalf("v1 create: %d", st)
	}
	made = append(made, v1.SandboxID)
	if v1.EnvdVersion != "0.5.7" || len(v1.EnvdAccessToken) < 32 || v1.Alias != "base" || v1.ClientID == "" || v1.Domain != nil {
		t.Errorf("v1 create answer: %+v", v1)
	}
	var got sandbox
	if st := call(t, "GET", u+"/sandboxes/"+v1.SandboxID, auth, nil, &got); st != 200 {
		t.Fatalf("get: %d", st)
	}
	if left := time.Until(got.EndAt); left > 16*time.Second || left < 5*time.Second {
		t.Errorf("v1 create without timeout: %v left, want E2B's 15 s", left)
	}
	if got.State != "running" || got.TemplateID != v1.TemplateID || got.EnvdAccessToken != v1.EnvdAccessToken || got.CPUCount < 1 || got.MemoryMB < 64 || got.DiskSizeMB < 1024 || got.Metadata["v"] != "1" {
		t.Errorf("get: %+v", got)
	}

	// refreshes extends, never shortens.
	if st := call(t, "POST", u+"/sandboxes/"+v1.SandboxID+"/refreshes", auth, map[string]any{"duration": 120}, nil); st != 204 {
		t.Fatalf("refresh 120: %d", st)
	}
	call(t, "GET", u+"/sandboxes/"+v1.SandboxID, auth, nil, &got)
	if left := time.Until(got.EndAt); left < 110*time.Second || left > 121*time.Second {
		t.Errorf("after refresh 120: %v left", left)
	}
	if st := call(t, "POST", u+"/sandboxes/"+v1.SandboxID+"/refreshes", auth, nil, nil); st != 204 {
		t.Fatalf("refresh (default): %d", st)
	}
	call(t, "GET", u+"/sandboxes/"+v1.SandboxID, auth, nil, &got)
	if left := time.Until(got.EndAt); left < 110*time.Second {
		t.Errorf("a 15 s refresh shortened the sandbox to %v", left)
	}

	// pause, then resume (v1): 201 running with the timeout set; a second
	// resume is 409; connect (v1) on a running sandbox is 200.
	if st := call(t, "POST", u+"/sandboxes/"+v1.SandboxID+"/pause", auth, nil, nil); st != 204 {
		t.Fatalf("pause: %d", st)
	}
	var resumed sandbox
	if st := call(t, "POST", u+"/sandboxes/"+v1.SandboxID+"/resume", auth, map[string]any{"timeout": 200}, &resumed); st != 201 || resumed.SandboxID != v1.SandboxID {
		t.Fatalf("resume: %d %+v", st, resumed)
	}
	call(t, "GET", u+"/sandboxes/"+v1.SandboxID, auth, nil, &got)
	if left := time.Until(got.EndAt); got.State != "running" || left < 190*time.Second || left > 201*time.Second {
		t.Errorf("after resume: %s, %v left", got.State, left)
	}
	if st := call(t, "POST", u+"/sandboxes/"+v1.SandboxID+"/connect", auth, map[string]any{"timeout": 30}, &resumed); st != 200 || resumed.EnvdAccessToken != v1.EnvdAccessToken {
		t.Errorf("v1 connect to a running sandbox: %d %+v", st, resumed)
	}
	call(t, "GET", u+"/sandboxes/"+v1.SandboxID, auth, nil, &got)
	if left := time.Until(got.EndAt); left < 190*time.Second {
		t.Errorf("connect with a shorter timeout shortened the sandbox to %v", left)
	}
	// v2 connect resumes a paused sandbox with 201.
	call(t, "POST", u+"/sandboxes/"+v1.SandboxID+"/pause", auth, map[string]any{"memory": true}, nil)
	if st := call(t, "POST", u+"/v2/sandboxes/"+v1.SandboxID+"/connect", auth, nil, &resumed); st != 201 {
		t.Errorf("v2 connect to a paused sandbox: %d", st)
	}

	// A second sandbox, then the list filters.
	mark := time.Now()
	time.Sleep(20 * time.Millisecond)
	var v2 sandbox
	if st := call(t, "POST", u+"/v2/sandboxes", auth, map[string]any{"templateID": v1.TemplateID, "timeout": 60, "allow_internet_access": false,
		"network": map[string]any{"denyOut": []string{"0.0.0.0/0"}}}, &v2); st != 201 {
		t.Fatalf("v2 create by template ID: %d", st)
	}
	made = append(made, v2.SandboxID)
	var detail struct{ AllowInternetAccess bool }
	if call(t, "GET", u+"/sandboxes/"+v2.SandboxID, auth, nil, &detail); detail.AllowInternetAccess {
		t.Error("a sandbox created with denyOut 0.0.0.0/0 has internet access")
	}
	list := func(q url.Values) ([]string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", u+"/v2/sandboxes?"+q.Encode(), nil)
		req.Header.Set("X-API-KEY", key)
		var items []sandbox
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("list %v: %d", q, resp.StatusCode)
		}
		decodeBody(t, resp, &items)
		ids := []string{}
		for _, it := range items {
			ids = append(ids, it.SandboxID)
		}
		return ids, resp.Header.Get("X-Next-Token")
	}
	eq := func(what string, got, want []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: %v, want %v", what, got, want)
				return
			}
		}
	}
	all, next := list(url.Values{})
	eq("all", all, []string{v2.SandboxID, v1.SandboxID})
	if next != "" {
		t.Errorf("a last page with X-Next-Token %q", next)
	}
	page, next := list(url.Values{"limit": {"1"}})
	eq("page 1", page, []string{v2.SandboxID})
	page, next = list(url.Values{"limit": {"1"}, "nextToken": {next}})
	eq("page 2", page, []string{v1.SandboxID})
	if next != "" {
		t.Errorf("page 2 has X-Next-Token %q", next)
	}
	asc, next := list(url.Values{"order": {"asc"}, "limit": {"1"}})
	eq("oldest first, page 1", asc, []string{v1.SandboxID})
	asc, next = list(url.Values{"order": {"asc"}, "limit": {"1"}, "nextToken": {next}})
	eq("oldest first, page 2", asc, []string{v2.SandboxID})
	if next != "" {
		t.Errorf("oldest first, page 2 has X-Next-Token %q", next)
	}
	after, _ := list(url.Values{"startedAfter": {mark.UTC().Format(time.RFC3339Nano)}})
	eq("startedAfter", after, []string{v2.SandboxID})
	byID, _ := list(url.Values{"template": {v1.TemplateID}})
	eq("template by ID", byID, all)
	byName, _ := list(url.Values{"template": {"base"}})
	eq("template by name", byName, all)
	none, _ := list(url.Values{"template": {"other"}})
	eq("another template", none, nil)
	md, _ := list(url.Values{"metadata": {"v=1"}})
	eq("metadata", md, []string{v1.SandboxID})
	var v1list []sandbox
	if st := call(t, "GET", u+"/sandboxes?metadata=v%3D1", auth, nil, &v1list); st != 200 || len(v1list) != 1 || v1list[0].SandboxID != v1.SandboxID {
		t.Errorf("v1 list by metadata: %d %+v", st, v1list)
	}

	// kill: 204, then 404 everywhere.
	if st := call(t, "DELETE", u+"/sandboxes/"+v2.SandboxID, auth, nil, nil); st != 204 {
		t.Fatalf("kill: %d", st)
	}
	for _, c := range [][2]string{{"DELETE", ""}, {"GET", ""}, {"POST", "/pause"}, {"POST", "/refreshes"}} {
		if st := call(t, c[0], u+"/sandboxes/"+v2.SandboxID+c[1], auth, nil, nil); st != 404 {
			t.Errorf("%s %s after kill: %d, want 404", c[0], c[1], st)
		}
	}
	all, _ = list(url.Values{})
	eq("after kill", all, []string{v1.SandboxID})

	// Every change went to Warren's audit log, by the key, with the
	// request's ID.
	team := n.Bootstrap.TeamID.UUID()
	rows, err := n.Store().ListAudit(context.Background(), db.ListAuditParams{TeamID: &team, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string][]string{}
	for i := len(rows) - 1; i >= 0; i-- {
		a := rows[i]
		if a.ResourceType != "sandbox" {
			continue
		}
		if a.ActorType != "api_key" || !strings.HasPrefix(a.ActorID, "key-") || !strings.HasPrefix(a.RequestID, "req-") {
			t.Errorf("audit row %+v: want the API key and the request ID", a)
		}
		actions[a.ResourceID] = append(actions[a.ResourceID], a.Action)
	}
	eq("audit of "+v1.SandboxID, actions[v1.SandboxID], []string{"sandbox.create", "sandbox.pause", "sandbox.resume", "sandbox.pause", "sandbox.resume"})
	eq("audit of "+v2.SandboxID, actions[v2.SandboxID], []string{"sandbox.create", "sandbox.kill"})
}
