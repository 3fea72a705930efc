package hardening_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// client calls one node's REST API with an API key.
type client struct {
	url string
	key string
}

var httpClient = &http.Client{Timeout: 3 * time.Minute}

// reply is a whole answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string {
	b := bytes.TrimSpace(r.body)
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	return fmt.Sprintf("%d %s", r.status, b)
}

func (r reply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r, err)
	}
}

// errShape reports whether the body is the API's error shape:
// {"error":{"code":…,"message":…},"request_id":…}.
func (r reply) errShape() bool {
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	return json.Unmarshal(r.body, &e) == nil && e.Error != nil && e.Error.Code != "" && e.Error.Message != "" && e.RequestID != ""
}

// clean4xx reports whether r is a 4xx with the JSON error shape.
func (r reply) clean4xx() bool { return r.status >= 400 && r.status < 500 && r.errShape() }

// call sends body (nil, string, []byte, io.Reader or a value as JSON) with
// extra headers in pairs; key "" sends no credentials.
func (c *client) call(method, path string, body any, headers ...string) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		return reply{}, err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return reply{status: res.StatusCode, header: res.Header, body: out}, nil
}

// do is call failing t on a transport error.
func (c *client) do(t testing.TB, method, path string, body any, headers ...string) reply {
	t.Helper()
	r, err := c.call(method, path, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// withKey returns a client of the same node with another key.
func (c *client) withKey(key string) *client { return &client{url: c.url, key: key} }

type sandboxJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

// create makes a sandbox from base (disk 1024 MB unless spec says otherwise),
// fails t unless it runs, and kills it when t ends.
func (c *client) create(t testing.TB, spec map[string]any) string {
	t.Helper()
	body := map[string]any{"template": "base", "disk_size_mb": 1024}
	for k, v := range spec {
		body[k] = v
	}
	r := c.do(t, "POST", "/v1/sandboxes", body)
	var sb sandboxJSON
	if r.status != http.StatusCreated {
		t.Fatalf("create %v: %s", body, r)
	}
	r.decode(t, &sb)
	if sb.Status != "running" {
		t.Fatalf("create: %+v", sb)
	}
	t.Cleanup(func() { c.kill(sb.ID) })
	return sb.ID
}

// kill ends a sandbox if it is still live (best effort, for cleanups).
func (c *client) kill(id string) {
	if r, err := c.call("GET", "/v1/sandboxes/"+id, nil); err == nil && r.status == 200 {
		var cur sandboxJSON
		if json.Unmarshal(r.body, &cur) == nil && (cur.Status == "running" || cur.Status == "paused") {
			_, _ = c.call("DELETE", "/v1/sandboxes/"+id, nil)
		}
	}
}

type execResult struct {
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	ExitCode int    `json:"exit_code"`
	TimedOut bool   `json:"timed_out"`
}

// run executes argv (no shell) in sandbox id and fails t unless the API
// answers 200.
func (c *client) run(t testing.TB, id string, timeoutSec int, argv ...string) execResult {
	t.Helper()
	body := map[string]any{"cmd": argv[0], "timeout_sec": timeoutSec}
	if len(argv) > 1 {
		body["args"] = argv[1:]
	}
	r := c.do(t, "POST", "/v1/sandboxes/"+id+"/exec", body)
	if r.status != 200 {
		t.Fatalf("exec %q in %s: %s", argv, id, r)
	}
	var res execResult
	r.decode(t, &res)
	return res
}

// sh runs a shell command and returns the result.
func (c *client) sh(t testing.TB, id, cmd string, timeoutSec int) execResult {
	t.Helper()
	r := c.do(t, "POST", "/v1/sandboxes/"+id+"/exec", map[string]any{"cmd": cmd, "timeout_sec": timeoutSec})
	if r.status != 200 {
		t.Fatalf("exec %q in %s: %s", cmd, id, r)
	}
	var res execResult
	r.decode(t, &res)
	return res
}

// mustSh runs cmd and fails t unless it exits 0; it returns stdout.
func (c *client) mustSh(t testing.TB, id, cmd string) string {
	t.Helper()
	res := c.sh(t, id, cmd, 120)
	if res.ExitCode != 0 {
		t.Fatalf("exec %q in %s: exit %d\nstdout: %s\nstderr: %s", cmd, id, res.ExitCode, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

// upload writes data at path in sandbox id with mode.
func (c *client) upload(t testing.TB, id, path string, data []byte, mode string) {
	t.Helper()
	r := c.do(t, "PUT", "/v1/sandboxes/"+id+"/files?path="+path+"&mode="+mode, data)
	if r.status != 200 {
		t.Fatalf("upload %s to %s: %s", path, id, r)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// atoiTrim parses a decimal number with surrounding space; 0 when it is not one.
func atoiTrim(s string) int {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return v
}

// readResponse reads one HTTP answer from br.
func readResponse(br *bufio.Reader, method string) (reply, error) {
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, body: b}, err
}
