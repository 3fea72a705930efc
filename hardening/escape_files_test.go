package hardening_test

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEscapeFilesAPI makes symlinks inside a sandbox that point at host
// paths (a secret file, the node's bootstrap credentials, the sandbox's own
// agent socket dir (ctl) on the host, /proc/1/root) and sends ".." and encoded
// variants in the path parameter. Reads must answer sandbox content or an
// error, never host content; writes and deletes must not touch the host.
func TestEscapeFilesAPI(t *testing.T) {
	n, c := startNode(t)
	sb := c.create(t, nil)
	victim := c.create(t, nil)
	c.mustSh(t, victim, "echo victim-secret-b > /tmp/b-secret")

	secretDir := t.TempDir()
	_ = os.Chmod(secretDir, 0o755)
	secretBody := "host-secret-" + filepath.Base(secretDir)
	secret := filepath.Join(secretDir, "secret")
	if err := os.WriteFile(secret, []byte(secretBody), 0o644); err != nil {
		t.Fatal(err)
	}
	bootstrap := filepath.Join(n.DataDir, "bootstrap.json")
	agentDir := filepath.Join(n.DataDir, "sandboxes", sb, "ctl")
	if _, err := os.Stat(agentDir); err != nil {
		t.Fatalf("the agent dir is not where the test expects it: %v", err)
	}
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	hostShadow, _ := os.ReadFile("/etc/shadow")
	// hostContent reports whether an answer carries anything of the host.
	hostContent := func(b []byte) bool {
		return bytes.Contains(b, []byte(secretBody)) || bytes.Contains(b, []byte(n.APIKey)) ||
			bytes.Contains(b, []byte("victim-secret-b")) ||
			(len(hostShadow) > 0 && bytes.Equal(b, hostShadow)) || bytes.Equal(b, hostPasswd)
	}

	ups := strings.Repeat("../", 12)
	c.mustSh(t, sb, strings.Join([]string{
		"ln -s /proc/1/root/etc/shadow /tmp/l-proc1-shadow",
		"ln -s /etc/passwd /tmp/l-passwd",
		"ln -s /etc /tmp/l-etc",
		"ln -s " + ups + " /tmp/l-up",
		"ln -s " + agentDir + " /tmp/l-agent",
		"ln -s " + secretDir + " /tmp/l-secretdir",
		"ln -s " + secret + " /tmp/l-secret",
		"ln -s " + ups + strings.TrimPrefix(secret, "/") + " /tmp/l-up-secret",
		"ln -s /proc/self/root" + secret + " /tmp/l-self-root",
		"ln -s " + bootstrap + " /tmp/l-bootstrap",
		"ln -s /proc/1/cwd/../../../../.. /tmp/l-cwd",
	}, " && "))

	// Control: a symlinked directory inside the sandbox resolves inside it
	// (downloads do not follow a final symlink).
	if r := c.do(t, "GET", "/v1/sandboxes/"+sb+"/files?path=/tmp/l-etc/passwd", nil); r.status != 200 || !bytes.Contains(r.body, []byte("root:")) || bytes.Equal(r.body, hostPasswd) {
		t.Fatalf("control: reading the sandbox's /etc/passwd through a symlink: %s", r)
	}
	reads := []string{
		"/tmp/l-proc1-shadow", "/tmp/l-passwd", "/tmp/l-up" + secret, "/tmp/l-agent", "/tmp/l-secretdir/secret",
		"/tmp/l-secret", "/tmp/l-up-secret", "/tmp/l-self-root", "/tmp/l-bootstrap", "/tmp/l-cwd" + secret,
		"/proc/1/root" + secret, "/proc/self/root" + secret, "/proc/1/root/etc/shadow", "/.warren/../" + ups + secret,
		"/" + ups + secret, "/tmp/" + ups + bootstrap, secret, bootstrap, agentDir,
	}
	for _, p := range reads {
		for _, route := range []string{"files", "files/stat", "files/list"} {
			r := c.do(t, "GET", "/v1/sandboxes/"+sb+"/"+route+"?path="+url.QueryEscape(p), nil)
			ok := !hostContent(r.body) && (r.status == 200 || r.clean4xx())
			attack(t, "files", route+" "+p, ok, r)
		}
	}
	// Encoded and raw variants of ".." in the query string.
	for _, raw := range []string{
		"%2e%2e%2f%2e%2e%2f%2e%2e%2f" + strings.TrimPrefix(secret, "/"),
		"%252e%252e%252f" + strings.TrimPrefix(secret, "/"),
		"/..%2f..%2f..%2f" + strings.TrimPrefix(secret, "/"),
		"/tmp/..%5c..%5c..%5c" + strings.TrimPrefix(secret, "/"),
		"..%00/" + secret, "%2F..%2F..%2F..%2F" + strings.TrimPrefix(bootstrap, "/"),
		"/tmp/l-up%2F" + strings.TrimPrefix(secret, "/"),
	} {
		r := c.do(t, "GET", "/v1/sandboxes/"+sb+"/files?path="+raw, nil)
		attack(t, "files", "encoded "+raw, !hostContent(r.body) && (r.status == 200 || r.clean4xx()), r)
	}
	// Another sandbox's files: its processes' /proc/<pid>/root are not
	// visible, by the files API or from inside.
	for pid := 1; pid <= 64; pid++ {
		p := "/proc/" + strconv.Itoa(pid) + "/root/tmp/b-secret"
		r := c.do(t, "GET", "/v1/sandboxes/"+sb+"/files?path="+url.QueryEscape(p), nil)
		if hostContent(r.body) || (r.status != 200 && !r.clean4xx()) {
			attack(t, "files", "other sandbox via "+p, false, r)
		}
	}
	attack(t, "files", "other sandbox via /proc/<1..64>/root", true)
	res := c.sh(t, sb, "cat /proc/*/root/tmp/b-secret 2>/dev/null", 10)
	attack(t, "files", "other sandbox via cat /proc/*/root", !strings.Contains(res.Stdout, "victim-secret-b"), res)

	// Writes through symlinks to host directories stay inside.
	writes := []struct{ method, path, want string }{
		{"PUT", "/tmp/l-secretdir/planted", filepath.Join(secretDir, "planted")},
		{"PUT", "/tmp/l-up" + secretDir + "/planted2", filepath.Join(secretDir, "planted2")},
		{"PUT", "/tmp/l-agent/planted", filepath.Join(agentDir, "planted")},
		{"PUT", "/tmp/l-secret", ""}, // overwrite the host secret
		{"PUT", "/tmp/l-bootstrap", ""},
		{"DELETE", "/tmp/l-secretdir/secret", ""},
		{"DELETE", "/tmp/l-up" + secret, ""},
	}
	for _, w := range writes {
		r := c.do(t, w.method, "/v1/sandboxes/"+sb+"/files?path="+url.QueryEscape(w.path), "planted-by-sandbox")
		held := r.status < 500 && (r.status < 300 || r.clean4xx())
		if w.want != "" {
			if _, err := os.Stat(w.want); err == nil {
				held = false
			}
		}
		attack(t, "files", w.method+" "+w.path, held, r)
	}
	r := c.do(t, "POST", "/v1/sandboxes/"+sb+"/files/mkdir", map[string]string{"path": "/tmp/l-secretdir/newdir"})
	_, statErr := os.Stat(filepath.Join(secretDir, "newdir"))
	attack(t, "files", "mkdir through a symlink", os.IsNotExist(statErr) && r.status < 500, r)
	if b, err := os.ReadFile(secret); err != nil || string(b) != secretBody {
		attack(t, "files", "host secret intact", false, string(b), err)
	}
	if b, err := os.ReadFile(bootstrap); err != nil || !bytes.Contains(b, []byte(n.APIKey)) {
		attack(t, "files", "bootstrap.json intact", false, err)
	}
	// The ctl dir on the host holds only the agent's socket.
	ents, _ := os.ReadDir(agentDir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "planted") {
			attack(t, "files", "agent dir untouched", false, e.Name())
		}
	}
}
