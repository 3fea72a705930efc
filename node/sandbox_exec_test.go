package node_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
)

// TestSandboxExecAndFiles: a sandbox from the base template runs commands
// (output, exit codes, stderr, timeouts, streaming) and moves files.
func TestSandboxExecAndFiles(t *testing.T) {
	t.Parallel()
	a := newAPI(nodetest.Start(t))
	start := time.Now()
	sb := a.create(t, nil)
	t.Logf("create → running: %s", time.Since(start))

	t.Run("create latency", func(t *testing.T) {
		// 20480 is the size stored images are grown to (no resize); any
		// other size costs an offline resize2fs of the clone.
		for _, mb := range []int{20480, 1024} {
			var lat []time.Duration
			for range 5 {
				s := time.Now()
				sb := a.create(t, map[string]any{"disk_size_mb": mb})
				lat = append(lat, time.Since(s))
				if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil); r.status != 200 {
					t.Fatalf("delete: %s", r)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			t.Logf("create → running over REST, disk_size_mb %d, sequential: p50 %s, max %s", mb, lat[len(lat)/2], lat[len(lat)-1])
		}
	})

	t.Run("exec", func(t *testing.T) {
		t.Parallel()
		if res := a.exec(t, sb.ID, "echo hi", 0); res.Stdout != "hi\n" || res.Stderr != "" || res.ExitCode != 0 || res.TimedOut {
			t.Fatalf("echo hi: %+v", res)
		}
		if res := a.exec(t, sb.ID, "echo out; echo err >&2; exit 3", 0); res.Stdout != "out\n" || res.Stderr != "err\n" || res.ExitCode != 3 {
			t.Fatalf("exit 3: %+v", res)
		}
		// argv form: no shell.
		r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "/bin/echo", "args": []string{"a b", "$HOME"}})
		var res execResult
		r.decode(t, &res)
		if r.status != 200 || res.Stdout != "a b $HOME\n" {
			t.Fatalf("argv exec: %s", r)
		}
		r = a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/exec", map[string]any{"cmd": "cat; echo \" $FOO\"; pwd; id -u",
			"stdin": "in", "env": map[string]string{"FOO": "bar"}, "cwd": "/tmp", "user": "user", "timeout_sec": 10})
		r.decode(t, &res)
		if r.status != 200 || res.Stdout != "in bar\n/tmp\n1000\n" {
			t.Fatalf("stdin, env, cwd and user: %s", r)
		}
		var lat []time.Duration
		for range 20 {
			s := time.Now()
			a.sh(t, sb.ID, "true")
			lat = append(lat, time.Since(s))
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("exec round trip over REST: p50 %s, max %s", lat[len(lat)/2], lat[len(lat)-1])
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		s := time.Now()
		res := a.exec(t, sb.ID, "sleep 30", 1)
		took := time.Since(s)
		if !res.TimedOut || res.ExitCode == 0 {
			t.Fatalf("sleep 30 with timeout 1: %+v", res)
		}
		if took > 2500*time.Millisecond {
			t.Fatalf("a 1 s timeout took %s to answer", took)
		}
		if out := a.sh(t, sb.ID, "ps -o pid,args | grep -c '[s]leep 30' || true"); strings.TrimSpace(out) != "0" {
			t.Fatalf("the timed-out sleep is still running: %q", out)
		}
	})

	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		checkExecStream(t, a, sb.ID)
	})

	t.Run("files", func(t *testing.T) {
		t.Parallel()
		data := make([]byte, 10<<20)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		q := "?path=" + url.QueryEscape("/home/user/big.bin")
		s := time.Now()
		r := a.do(t, "PUT", "/v1/sandboxes/"+sb.ID+"/files"+q, data)
		if r.status != 200 {
			t.Fatalf("upload: %s", r)
		}
		up := time.Since(s)
		var fi struct {
			Type string
			Size int64
			Mode string
		}
		r.decode(t, &fi)
		if fi.Type != "file" || fi.Size != int64(len(data)) || fi.Mode != "0644" {
			t.Fatalf("upload answer: %+v", fi)
		}
		s = time.Now()
		r = a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/files"+q, nil)
		if r.status != 200 || !bytes.Equal(r.body, data) {
			t.Fatalf("download: status %d, %d bytes, equal %v", r.status, len(r.body), bytes.Equal(r.body, data))
		}
		t.Logf("10 MiB upload %s, download %s", up, time.Since(s))
		if sum := a.sh(t, sb.ID, "wc -c < /home/user/big.bin"); strings.TrimSpace(sum) != "10485760" {
			t.Fatalf("size inside: %q", sum)
		}

		if r := a.do(t, "POST", "/v1/sandboxes/"+sb.ID+"/files/mkdir", map[string]any{"path": "/srv/a/b/c"}); r.status != 201 || !strings.Contains(string(r.body), `"type":"dir"`) {
			t.Fatalf("mkdir -p: %s", r)
		}
		if r := a.do(t, "PUT", "/v1/sandboxes/"+sb.ID+"/files?path=/srv/a/b/c/f.txt&mode=0600", "hello"); r.status != 200 {
			t.Fatalf("upload small: %s", r)
		}
		r = a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/files/list?path=/srv/a&depth=3", nil)
		var list struct {
			Items []struct{ Path, Type, Mode string }
		}
		r.decode(t, &list)
		got := map[string]string{}
		for _, it := range list.Items {
			got[it.Path] = it.Type + " " + it.Mode
		}
		want := map[string]string{"/srv/a/b": "dir 0755", "/srv/a/b/c": "dir 0755", "/srv/a/b/c/f.txt": "file 0600"}
		for p, w := range want {
			if got[p] != w {
				t.Fatalf("list depth 3: %s is %q, want %q (all: %v)", p, got[p], w, got)
			}
		}
		if r := a.do(t, "GET", "/v1/sandboxes/"+sb.ID+"/files/stat?path=/srv/a/b/c/f.txt", nil); r.status != 200 || !strings.Contains(string(r.body), `"size":5`) {
			t.Fatalf("stat: %s", r)
		}
		if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID+"/files?path=/srv/a", nil); r.status < 400 || r.status >= 500 {
			t.Fatalf("non-recursive remove of a non-empty dir: %s", r)
		}
		if r := a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID+"/files?path=/srv/a&recursive=true", nil); r.status != 204 {
			t.Fatalf("recursive remove: %s", r)
		}
		if out := a.sh(t, sb.ID, "ls -A /srv"); out != "" {
			t.Fatalf("/srv after remove: %q", out)
		}
	})

	t.Run("path errors", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			method, path string
			status       int
			field, msg   string
		}{
			{"GET", "/files?path=/no/such/file", 404, "", "/no/such/file"},
			{"GET", "/files/stat?path=/no/such", 404, "", "/no/such"},
			{"GET", "/files/list?path=/no/such/dir", 404, "", "/no/such/dir"},
			{"DELETE", "/files?path=/no/such", 404, "", "/no/such"},
			{"GET", "/files?path=etc/passwd", 400, "path", "absolute"},
			{"GET", "/files", 400, "path", "required"},
			{"GET", "/files?path=/etc", 400, "path", "not a regular file"},
			{"GET", "/files/list?path=/etc&depth=99", 400, "depth", "between"},
			{"DELETE", "/files?path=/", 400, "path", "root"},
			{"PUT", "/files?path=/tmp/x&mode=999", 400, "mode", "octal"},
		} {
			r := a.do(t, c.method, "/v1/sandboxes/"+sb.ID+c.path, nil)
			if r.status != c.status {
				t.Errorf("%s %s: %s, want %d", c.method, c.path, r, c.status)
				continue
			}
			e := r.apiErr(t)
			if e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.msg) {
				t.Errorf("%s %s: %s, want field %q and a message naming %q", c.method, c.path, r, c.field, c.msg)
			}
		}
	})
}

// checkExecStream runs a command through a's NDJSON exec stream on sandbox sb
// and checks the output arrives as it is written, ending with the exit code.
func checkExecStream(t *testing.T, a *api, sb string) {
	req, _ := http.NewRequest("POST", a.url+"/v1/sandboxes/"+sb+"/exec/stream",
		strings.NewReader(`{"cmd":"echo a; sleep 1; echo b >&2; echo c; exit 4"}`))
	req.Header.Set("Authorization", "Bearer "+a.key)
	s := time.Now()
	res, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	type event struct {
		Type     string `json:"type"`
		Data     []byte `json:"data"`
		ExitCode *int   `json:"exit_code"`
		at       time.Duration
	}
	var evs []event
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("bad NDJSON line %q: %v", sc.Text(), err)
		}
		ev.at = time.Since(s)
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(evs) < 2 {
		t.Fatalf("events: %+v", evs)
	}
	first, last := evs[0], evs[len(evs)-1]
	if first.Type != "stdout" || string(first.Data) != "a\n" {
		t.Fatalf("first event: %+v", first)
	}
	if last.Type != "exit" || last.ExitCode == nil || *last.ExitCode != 4 {
		t.Fatalf("last event: %+v", last)
	}
	if gap := last.at - first.at; gap < 700*time.Millisecond {
		t.Fatalf("the first chunk arrived only %s before the exit: output is not streamed", gap)
	}
	var out, errs string
	for _, ev := range evs[:len(evs)-1] {
		switch ev.Type {
		case "stdout":
			out += string(ev.Data)
		case "stderr":
			errs += string(ev.Data)
		default:
			t.Fatalf("unexpected event %+v", ev)
		}
	}
	if out != "a\nc\n" || errs != "b\n" {
		t.Fatalf("stdout %q stderr %q", out, errs)
	}
}
