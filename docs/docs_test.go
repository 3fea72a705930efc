package docs_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// block is one ```sh block of a markdown file.
type block struct {
	line     int    // where its body starts
	body     string // the shell text
	requires string // "METHOD /path" from a preceding <!-- requires: … --> comment
}

var requiresRe = regexp.MustCompile(`^<!--\s*requires:\s*(\S+)\s+(\S+)\s*-->$`)

// shellBlocks returns the ```sh blocks of path that contain curl, in order.
func shellBlocks(t *testing.T, path string) []block {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out      []block
		cur      *block
		requires string
		sc       = bufio.NewScanner(f)
		n        int
	)
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur != nil && strings.TrimSpace(line) == "```":
			if strings.Contains(cur.body, "curl ") {
				out = append(out, *cur)
			}
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		case strings.TrimSpace(line) == "```sh":
			cur = &block{line: n + 1, requires: requires}
			requires = ""
		case requiresRe.MatchString(strings.TrimSpace(line)):
			m := requiresRe.FindStringSubmatch(strings.TrimSpace(line))
			requires = m[1] + " " + m[2]
		case strings.TrimSpace(line) != "":
			requires = ""
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s: the block at line %d is not closed", path, cur.line)
	}
	return out
}

// routeExists probes method path: a route the server does not serve answers
// 404 "no such route" or 405.
func routeExists(t *testing.T, url, key, method, path string) bool {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("probing %s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var body struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode != http.StatusMethodNotAllowed &&
		!(res.StatusCode == http.StatusNotFound && body.Error.Message == "no such route")
}

// TestAPIGuideExamples runs every curl block of API.md in order against a real
// node, sharing shell variables between blocks (the first ones create $SB), and
// fails on any non-2xx answer (the examples use curl -fsS under set -e).
func TestAPIGuideExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "cmp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the API guide's examples need %s (install it: scripts/deps)", tool)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatal("the ports example uploads /bin/busybox: install busybox-static (scripts/deps)")
	}
	blocks := shellBlocks(t, "API.md")
	if len(blocks) < 15 {
		t.Fatalf("found only %d curl blocks in API.md", len(blocks))
	}
	n := nodetest.Start(t)
	work := t.TempDir()
	state := filepath.Join(work, ".state.sh")
	if err := os.WriteFile(state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "LANG=C.UTF-8",
		"WARREN_URL=" + n.URL, "WARREN_API_KEY=" + n.APIKey,
		"WARREN_EMAIL=" + n.Bootstrap.Email, "WARREN_PASSWORD=" + n.Bootstrap.Password}
	// The names bash defines by itself are not carried between blocks.
	base, err := exec.Command("bash", "-c", "compgen -v").Output()
	if err != nil {
		t.Fatal(err)
	}
	baseline := " " + strings.Join(strings.Fields(string(base)), " ") + " WARREN_URL WARREN_API_KEY WARREN_EMAIL WARREN_PASSWORD "
	save := fmt.Sprintf(`for __v in $(compgen -v); do case %q in *" $__v "*) continue;; esac; `+
		`[[ $__v =~ ^[A-Z][A-Z0-9_]*$ ]] && declare -p "$__v"; done > %q`, baseline, state)
	ran := 0
	for _, b := range blocks {
		name := fmt.Sprintf("API.md:%d", b.line)
		if b.requires != "" {
			method, path, _ := strings.Cut(b.requires, " ")
			if !routeExists(t, n.URL, n.APIKey, method, path) {
				t.Logf("%s: skipped: the node does not serve %s yet", name, b.requires)
				continue
			}
		}
		script := "set -euo pipefail\nsource " + state + "\ntrap '" + strings.ReplaceAll(save, "'", `'\''`) + "' EXIT\n" + b.body
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s failed: %v\n--- block\n%s--- output\n%s", name, err, b.body, out)
		}
		t.Logf("%s ok:\n%s", name, out)
		ran++
	}
	if ran == 0 {
		t.Fatal("no example ran")
	}
}
