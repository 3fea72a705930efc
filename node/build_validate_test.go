package node_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// buildValidation: bad build requests are refused up front with the field
// at fault, taken names with 409, non-admins with 403; a missing base
// template fails the build with a message that says so.
func buildValidation(t *testing.T, n *nodetest.Node, c *bclient) {
	ok := []string{"echo hi"}
	many := make([]string, 501)
	for i := range many {
		many[i] = "true"
	}
	for _, tc := range []struct {
		name  string
		req   map[string]any
		field string
	}{
		{"empty recipe", map[string]any{"name": "v1", "recipe": []string{}}, "recipe"},
		{"no recipe", map[string]any{"name": "v1"}, "recipe"},
		{"blank step", map[string]any{"name": "v1", "recipe": []string{"echo a", "  "}}, "recipe[1]"},
		{"501 steps", map[string]any{"name": "v1", "recipe": many}, "recipe"},
		{"step over 64 KiB", map[string]any{"name": "v1", "recipe": []string{"echo a", "echo " + strings.Repeat("x", 64<<10)}}, "recipe[1]"},
		{"bad name", map[string]any{"name": "Bad Name!", "recipe": ok}, "name"},
		{"empty name", map[string]any{"name": "", "recipe": ok}, "name"},
		{"healthcheck without start_cmd", map[string]any{"name": "v1", "recipe": ok, "healthcheck": map[string]any{"cmd": "true"}}, "healthcheck"},
		{"healthcheck without cmd", map[string]any{"name": "v1", "recipe": ok, "start_cmd": "sleep 1000", "healthcheck": map[string]any{}}, "healthcheck.cmd"},
		{"negative retries", map[string]any{"name": "v1", "recipe": ok, "start_cmd": "sleep 1000", "healthcheck": map[string]any{"cmd": "true", "retries": -1}}, "healthcheck.retries"},
		{"memory too small", map[string]any{"name": "v1", "recipe": ok, "memory_mb": 1}, "memory_mb"},
		{"disk too large", map[string]any{"name": "v1", "recipe": ok, "disk_size_mb": 1 << 30}, "disk_size_mb"},
		{"step timeout", map[string]any{"name": "v1", "recipe": ok, "step_timeout_sec": -5}, "step_timeout_sec"},
		{"unknown field", map[string]any{"name": "v1", "recipe": ok, "steps": ok}, "steps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.call(t, "POST", "/v1/admin/builds", tc.req)
			var e struct {
				Error struct{ Code, Message, Field string }
			}
			r.into(t, &e)
			if r.status != 400 || e.Error.Field != tc.field || e.Error.Message == "" {
				t.Errorf("answer %s, want 400 naming field %q", r, tc.field)
			}
		})
	}

	t.Run("name taken by a template", func(t *testing.T) {
		r := c.call(t, "POST", "/v1/admin/builds", map[string]any{"name": "base", "recipe": ok})
		if r.status != 409 || !strings.Contains(string(r.body), "template") {
			t.Errorf("answer %s, want 409 about the template", r)
		}
	})

	t.Run("name of an in-flight build", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "inflight", "disk_size_mb": 1024, "recipe": []string{"sleep 60"}})
		r := c.call(t, "POST", "/v1/admin/builds", map[string]any{"name": "inflight", "recipe": ok})
		if r.status != 409 || !strings.Contains(string(r.body), "build") {
			t.Errorf("answer %s, want 409 about the build", r)
		}
		if r := c.call(t, "POST", "/v1/admin/builds/"+b.ID+"/cancel", nil); r.status != 200 {
			t.Fatalf("cancel: %s", r)
		}
		c.finish(t, b.ID, "cancelled", 20*time.Second)
		// Once it has ended, the name is free again.
		b = c.submit(t, map[string]any{"name": "inflight", "disk_size_mb": 1024, "recipe": []string{"sleep 60"}})
		c.call(t, "POST", "/v1/admin/builds/"+b.ID+"/cancel", nil)
		c.finish(t, b.ID, "cancelled", 20*time.Second)
	})

	t.Run("same name at once", func(t *testing.T) {
		codes := make(chan int, 8)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- c.call(t, "POST", "/v1/admin/builds", map[string]any{"name": "racer", "disk_size_mb": 1024, "recipe": []string{"sleep 60"}}).status
			}()
		}
		wg.Wait()
		close(codes)
		got := map[int]int{}
		for code := range codes {
			got[code]++
		}
		if got[201] != 1 || got[409] != 7 {
			t.Errorf("8 submits of one name at once answered %v, want one 201 and seven 409", got)
		}
		r := c.call(t, "GET", "/v1/admin/builds?limit=200", nil)
		var l struct{ Items []buildJSON }
		r.into(t, &l)
		for _, b := range l.Items {
			if b.Name == "racer" && !b.done() {
				c.call(t, "POST", "/v1/admin/builds/"+b.ID+"/cancel", nil)
				c.finish(t, b.ID, "cancelled", 20*time.Second)
			}
		}
	})

	t.Run("bad ids and filters", func(t *testing.T) {
		for path, want := range map[string]int{
			"/v1/admin/builds/nope": 400,
			"/v1/admin/builds/bld-00000000-0000-0000-0000-000000000001":  404,
			"/v1/admin/builds?status=done":                               400,
			"/v1/admin/builds?limit=0":                                   400,
			"/v1/admin/builds/bld-00000000-0000-0000-0000-000000000001/": 404,
		} {
			if r := c.call(t, "GET", path, nil); r.status != want {
				t.Errorf("GET %s: %s, want %d", path, r, want)
			}
		}
		if r := c.call(t, "POST", "/v1/admin/builds/bld-00000000-0000-0000-0000-000000000001/cancel", nil); r.status != 404 {
			t.Errorf("cancel of no build: %s, want 404", r)
		}
	})

	t.Run("missing base template", func(t *testing.T) {
		b := c.submit(t, map[string]any{"name": "orphan", "base_template": "no-such-base", "disk_size_mb": 1024, "recipe": ok})
		b = c.finish(t, b.ID, "failed", 30*time.Second)
		if !strings.Contains(b.Error, "base template") || strings.Contains(b.Error, "/") {
			t.Errorf("error %q: want a message about the base template, without internals", b.Error)
		}
	})

	t.Run("non-admin", func(t *testing.T) {
		cookie, csrf, key := memberCredentials(t, c)
		member := &bclient{n: n, url: n.URL, key: key}
		for _, rt := range []struct{ method, path string }{
			{"POST", "/v1/admin/builds"}, {"GET", "/v1/admin/builds"}, {"GET", "/v1/admin/templates"},
			{"POST", "/v1/admin/builds/bld-00000000-0000-0000-0000-000000000001/cancel"},
		} {
			if r := member.call(t, rt.method, rt.path, map[string]any{"name": "mine", "recipe": ok}); r.status != 403 {
				t.Errorf("%s %s with a team key: %s, want 403", rt.method, rt.path, r)
			}
		}
		body, _ := json.Marshal(map[string]any{"name": "mine", "recipe": ok})
		req, _ := http.NewRequest("POST", n.URL+"/v1/admin/builds", strings.NewReader(string(body)))
		req.Header.Set("Cookie", cookie)
		req.Header.Set("X-CSRF-Token", csrf)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 403 {
			t.Errorf("POST /v1/admin/builds with a member's session: %d, want 403", res.StatusCode)
		}
	})
}

var memberSeq atomic.Int64

// memberCredentials makes a team with a non-admin owner and returns the
// owner's session cookie, its CSRF token and an API key the owner made.
func memberCredentials(t *testing.T, admin *bclient) (cookie, csrf, key string) {
	t.Helper()
	r := admin.call(t, "POST", "/v1/admin/teams", map[string]any{"name": "builders-" + t.Name()})
	if r.status != 201 {
		t.Fatalf("create team: %s", r)
	}
	var team struct{ ID string }
	r.into(t, &team)
	email, pw := fmt.Sprintf("member%d@example.com", memberSeq.Add(1)), "correct horse battery staple"
	if r := admin.call(t, "POST", "/v1/admin/users", map[string]any{"email": email, "password": pw, "team_id": team.ID, "role": "owner"}); r.status != 201 {
		t.Fatalf("create user: %s", r)
	}
	body, _ := json.Marshal(map[string]any{"email": email, "password": pw})
	res, err := http.Post(admin.url+"/v1/auth/login", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&login)
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == "warren_session" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	if res.StatusCode != 200 || cookie == "" || login.CSRF == "" {
		t.Fatalf("login: %d, cookie %q", res.StatusCode, cookie)
	}
	req, _ := http.NewRequest("POST", admin.url+"/v1/api-keys", strings.NewReader(`{"name":"member-key"}`))
	req.Header.Set("Cookie", cookie)
	req.Header.Set("X-CSRF-Token", login.CSRF)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var k struct{ Key string }
	if err := json.NewDecoder(res.Body).Decode(&k); err != nil || res.StatusCode != 201 || k.Key == "" {
		t.Fatalf("create api key: %d %v", res.StatusCode, err)
	}
	return cookie, login.CSRF, k.Key
}
