package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// cliEnv runs the real warren binary with a private HOME and config dir.
type cliEnv struct {
	t   *testing.T
	bin string
	env []string
	xdg string
}

func newCLIEnv(t *testing.T) *cliEnv {
	home := t.TempDir()
	xdg := filepath.Join(home, "xdg")
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + xdg, "PATH=" + os.Getenv("PATH")}
	return &cliEnv{t: t, bin: nodetest.Binary(t), env: env, xdg: xdg}
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs warren with args (and extra environment), feeding stdin.
func (e *cliEnv) run(stdin string, extraEnv []string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(append([]string{}, e.env...), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("warren %s: %v", strings.Join(args, " "), err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs warren and fails the test unless it exits 0.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	r := e.run("", nil, args...)
	if r.code != 0 {
		e.t.Fatalf("warren %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func (e *cliEnv) jsonOut(v any, args ...string) {
	e.t.Helper()
	out := e.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("warren %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type sandbox struct {
	ID, Status, Template string
	Metadata             map[string]string
}

// TestCLIAgainstNode drives the binary through login, create, exec, cp, ls and
// kill against a real node.
func TestCLIAgainstNode(t *testing.T) {
	n := nodetest.Start(t)
	e := newCLIEnv(t)

	// Login: the URL from a flag, the key from stdin (the prompt).
	r := e.run(n.APIKey+"\n", nil, "login", "--url", n.URL)
	if r.code != 0 || !strings.Contains(r.stdout, "Logged in to "+n.URL) {
		t.Fatalf("login: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	cfgPath := filepath.Join(e.xdg, "warren", "config.json")
	fi, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatalf("login stored no config: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %o, want 600", fi.Mode().Perm())
	}
	var cfg struct {
		URL    string `json:"url"`
		APIKey string `json:"api_key"`
	}
	b, _ := os.ReadFile(cfgPath)
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.URL != n.URL || cfg.APIKey != n.APIKey {
		t.Fatalf("config %s: %+v (%v)", cfgPath, cfg, err)
	}
	// A wrong key is refused and nothing is stored over the good config.
	if r := e.run("", nil, "login", "--url", n.URL, "--api-key", "wk_wrong"); r.code == 0 || !strings.Contains(r.stderr, "missing or invalid credentials") {
		t.Fatalf("login with a wrong key: exit %d, stderr %q", r.code, r.stderr)
	}

	// Precedence: flag > env > config.
	bad := []string{"WARREN_API_KEY=wk_wrong"}
	if r := e.run("", bad, "sandbox", "ls"); r.code != 1 || !strings.Contains(r.stderr, "missing or invalid credentials") {
		t.Fatalf("env key should beat the config: exit %d, %q", r.code, r.stderr)
	}
	if r := e.run("", bad, "sandbox", "ls", "--api-key", n.APIKey); r.code != 0 {
		t.Fatalf("flag key should beat the env: exit %d, %q", r.code, r.stderr)
	}

	var sb sandbox
	e.jsonOut(&sb, "sandbox", "create", "--disk", "2048", "--timeout", "600", "-m", "purpose=cli-test")
	if sb.Status != "running" || !strings.HasPrefix(sb.ID, "sb-") {
		t.Fatalf("create: %+v", sb)
	}
	t.Cleanup(func() { e.run("", nil, "sandbox", "kill", sb.ID) })

	t.Run("exec exit code and streams", func(t *testing.T) {
		r := e.run("", nil, "sandbox", "exec", sb.ID, "--", "echo out; echo err >&2; exit 7")
		if r.code != 7 || r.stdout != "out\n" || r.stderr != "err\n" {
			t.Fatalf("exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		r = e.run("", nil, "sandbox", "exec", sb.ID, "--", "sh", "-c", `printf '%s|' "$@"`, "x", "a b", "c")
		if r.code != 0 || r.stdout != "a b|c|" {
			t.Fatalf("exec with args: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("exec stdin", func(t *testing.T) {
		r := e.run("piped input", nil, "sandbox", "exec", "-i", "--timeout", "10", sb.ID, "--", "cat")
		if r.code != 0 || r.stdout != "piped input" {
			t.Fatalf("exec --stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("exec output is live", func(t *testing.T) {
		cmd := exec.Command(e.bin, "sandbox", "exec", sb.ID, "--", "echo first; sleep 5; echo second")
		cmd.Env = e.env
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		rd := bufio.NewReader(out)
		first, err := rd.ReadString('\n')
		if err != nil || first != "first\n" {
			t.Fatalf("first line %q: %v", first, err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Fatalf("the first line arrived only when the command ended (%v): output is not streamed", err)
		default:
		}
		rest, _ := rd.ReadString('\n')
		if err := <-done; err != nil || rest != "second\n" {
			t.Fatalf("end: %q, %v", rest, err)
		}
	})

	t.Run("cp both ways", func(t *testing.T) {
		dir := t.TempDir()
		data := make([]byte, 3<<20+17)
		_, _ = rand.Read(data)
		src := filepath.Join(dir, "in.bin")
		if err := os.WriteFile(src, data, 0o640); err != nil {
			t.Fatal(err)
		}
		e.ok("sandbox", "cp", src, sb.ID+":/tmp/up/in.bin")
		if got := e.ok("sandbox", "exec", sb.ID, "--", "wc -c < /tmp/up/in.bin"); strings.TrimSpace(got) != "3145745" {
			t.Fatalf("size in the sandbox: %q", got)
		}
		// A directory destination on the sandbox side keeps the name.
		e.ok("sandbox", "cp", src, sb.ID+":/tmp/dir/")
		e.ok("sandbox", "exec", sb.ID, "--", "cmp /tmp/up/in.bin /tmp/dir/in.bin")
		dst := filepath.Join(dir, "out.bin")
		e.ok("sandbox", "cp", sb.ID+":/tmp/up/in.bin", dst)
		got, err := os.ReadFile(dst)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip: %d bytes back of %d (%v)", len(got), len(data), err)
		}
		// A local directory destination keeps the name too.
		into := t.TempDir()
		e.ok("sandbox", "cp", sb.ID+":/tmp/up/in.bin", into)
		if got, _ := os.ReadFile(filepath.Join(into, "in.bin")); !bytes.Equal(got, data) {
			t.Fatal("download into a directory changed the bytes")
		}
		// A missing remote file fails with the API's message and leaves no file.
		r := e.run("", nil, "sandbox", "cp", sb.ID+":/nope", filepath.Join(dir, "nope"))
		if r.code != 1 || !strings.Contains(r.stderr, "/nope") {
			t.Fatalf("cp of a missing file: exit %d, %q", r.code, r.stderr)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 2 {
			t.Fatalf("the failed copy left files behind: %v", entries)
		}
	})

	t.Run("ls json", func(t *testing.T) {
		var list []sandbox
		e.jsonOut(&list, "sandbox", "ls", "--state", "running", "-m", "purpose=cli-test")
		if len(list) != 1 || list[0].ID != sb.ID || list[0].Metadata["purpose"] != "cli-test" {
			t.Fatalf("ls: %+v", list)
		}
		if out := e.ok("sandbox", "ls"); !strings.Contains(out, sb.ID) || !strings.HasPrefix(out, "ID ") {
			t.Fatalf("ls table:\n%s", out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		r := e.run("", nil, "sandbox", "get", "sb-00000000-0000-0000-0000-000000000000")
		if r.code != 1 || r.stderr != "warren: sandbox not found\n" {
			t.Fatalf("get unknown: exit %d, %q", r.code, r.stderr)
		}
		r = e.run("", nil, "sandbox", "timeout", sb.ID, "soon")
		if r.code != 1 || !strings.Contains(r.stderr, "SECONDS") {
			t.Fatalf("bad timeout: exit %d, %q", r.code, r.stderr)
		}
	})

	var killed []sandbox
	e.jsonOut(&killed, "sandbox", "kill", sb.ID)
	if len(killed) != 1 || killed[0].Status != "killed" {
		t.Fatalf("kill: %+v", killed)
	}
	var got sandbox
	e.jsonOut(&got, "sandbox", "get", sb.ID)
	if got.Status != "killed" {
		t.Fatalf("after kill: %+v", got)
	}
}
