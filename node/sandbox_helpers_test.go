package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// api is a plain net/http client of one node's REST API.
type api struct {
	url string
	key string
}

func newAPI(n *nodetest.Node) *api { return &api{url: n.URL, key: n.APIKey} }

// httpClient bounds every call, so a hung node fails the test instead of
// stalling it.
var httpClient = &http.Client{Timeout: 2 * time.Minute}

// resp is an answer: status, headers and the whole body.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// errBody is the API's error shape.
type errBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r, err)
	}
}

func (r resp) apiErr(t testing.TB) errBody {
	t.Helper()
	var e errBody
	r.decode(t, &e)
	if e.Error.Message == "" {
		t.Fatalf("no error message in %s", r)
	}
	return e
}

// do sends body (nil, []byte, io.Reader or a value encoded as JSON) with the
// client's key (or key, when given).
func (a *api) do(t testing.TB, method, path string, body any, key ...string) resp {
	t.Helper()
	r, err := a.try(method, path, body, key...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// try is do without failing the test: for cleanups, where the node may be gone.
func (a *api) try(method, path string, body any, key ...string) (resp, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return resp{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		return resp{}, err
	}
	k := a.key
	if len(key) > 0 {
		k = key[0]
	}
	req.Header.Set("Authorization", "Bearer "+k)
	res, err := httpClient.Do(req)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: out}, nil
}

// sandboxJSON is the part of the sandbox object the tests read.
type sandboxJSON struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	DiskSizeMB int        `json:"disk_size_mb"`
	MemoryMB   int        `json:"memory_mb"`
	TimeoutSec int        `json:"timeout_sec"`
	Error      string     `json:"error"`
	NodeID     string     `json:"node_id"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

// create makes a sandbox from the base template with the extra fields of
// spec, fails the test unless it answers 201 running, and kills it when the
// test ends (if it is still live).
func (a *api) create(t testing.TB, spec map[string]any) sandboxJSON {
	t.Helper()
	body := map[string]any{"template": "base", "disk_size_mb": 1024}
	for k, v := range spec {
		body[k] = v
	}
	r := a.do(t, "POST", "/v1/sandboxes", body)
	if r.status != http.StatusCreated {
		t.Fatalf("create %v: %s", body, r)
	}
	var sb sandboxJSON
	r.decode(t, &sb)
	if sb.Status != "running" || !strings.HasPrefix(sb.ID, "sb-") {
		t.Fatalf("create: %+v", sb)
	}
	t.Cleanup(func() {
		// Best effort: the test may have ended it, or stopped the node
		// (whose shutdown ends its sandboxes).
		if g, err := a.try("GET", "/v1/sandboxes/"+sb.ID, nil); err == nil && g.status == 200 {
			var cur sandboxJSON
			if json.Unmarshal(g.body, &cur) == nil && (cur.Status == "running" || cur.Status == "paused") {
				if r, err := a.try("DELETE", "/v1/sandboxes/"+sb.ID, nil); err != nil || r.status != 200 {
					t.Errorf("cleanup: killing %s: %v %s", sb.ID, err, r)
				}
			}
		}
	})
	return sb
}

func (a *api) get(t testing.TB, id string) sandboxJSON {
	t.Helper()
	r := a.do(t, "GET", "/v1/sandboxes/"+id, nil)
	if r.status != 200 {
		t.Fatalf("get %s: %s", id, r)
	}
	var sb sandboxJSON
	r.decode(t, &sb)
	return sb
}

// execResult is the JSON exec answer.
type execResult struct {
	Stdout     string `json:"stdout"`
	Stderr     string `json:"stderr"`
	ExitCode   int    `json:"exit_code"`
	DurationMS int64  `json:"duration_ms"`
	TimedOut   bool   `json:"timed_out"`
}

// exec runs a shell command and fails the test unless the API answers 200.
func (a *api) exec(t testing.TB, id, cmd string, timeoutSec int) execResult {
	t.Helper()
	body := map[string]any{"cmd": cmd}
	if timeoutSec > 0 {
		body["timeout_sec"] = timeoutSec
	}
	r := a.do(t, "POST", "/v1/sandboxes/"+id+"/exec", body)
	if r.status != 200 {
		t.Fatalf("exec %q in %s: %s", cmd, id, r)
	}
	var res execResult
	r.decode(t, &res)
	return res
}

// sh runs cmd, requires exit 0 and returns its stdout.
func (a *api) sh(t testing.TB, id, cmd string) string {
	t.Helper()
	res := a.exec(t, id, cmd, 60)
	if res.ExitCode != 0 || res.TimedOut {
		t.Fatalf("exec %q in %s: exit %d timed_out %v\nstdout: %s\nstderr: %s", cmd, id, res.ExitCode, res.TimedOut, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

// waitStatus polls until sandbox id has status want or d passes.
func (a *api) waitStatus(t testing.TB, id, want string, d time.Duration) sandboxJSON {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		sb := a.get(t, id)
		if sb.Status == want {
			return sb
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox %s is %s after %s, want %s", id, sb.Status, d, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// teamKey makes a second team with an owner and returns an API key of it.
func (a *api) teamKey(t testing.TB, name string) string {
	t.Helper()
	r := a.do(t, "POST", "/v1/admin/teams", map[string]any{"name": name})
	if r.status != 201 {
		t.Fatalf("create team: %s", r)
	}
	var team struct{ ID string }
	r.decode(t, &team)
	email, pw := name+"@example.com", "correct horse battery staple "+name
	if r := a.do(t, "POST", "/v1/admin/users", map[string]any{"email": email, "password": pw, "team_id": team.ID, "role": "owner"}); r.status != 201 {
		t.Fatalf("create user: %s", r)
	}
	r = a.do(t, "POST", "/v1/auth/login", map[string]any{"email": email, "password": pw}, "")
	if r.status != 200 {
		t.Fatalf("login: %s", r)
	}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	r.decode(t, &login)
	var cookie string
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "warren_session" {
			cookie = c.Name + "=" + c.Value
		}
	}
	req, _ := http.NewRequest("POST", a.url+"/v1/api-keys", strings.NewReader(`{"name":"b"}`))
	req.Header.Set("Cookie", cookie)
	req.Header.Set("X-CSRF-Token", login.CSRF)
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var key struct{ Key string }
	if err := json.NewDecoder(res.Body).Decode(&key); err != nil || res.StatusCode != 201 || key.Key == "" {
		t.Fatalf("create api key: %d %v", res.StatusCode, err)
	}
	return key.Key
}
