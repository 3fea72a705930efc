package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warrenhq/warren/node/nodetest"
)

// TestCLITemplateBuildFollow builds a template from a YAML recipe with
// --follow, which must print the step logs and end in success, then starts a
// sandbox from the new template and finds the recipe's work in it; builds and
// nodes are listed with -o json.
func TestCLITemplateBuildFollow(t *testing.T) {
	n := nodetest.Start(t)
	e := newCLIEnv(t)
	e.env = append(e.env, "WARREN_URL="+n.URL, "WARREN_API_KEY="+n.APIKey)

	recipe := filepath.Join(t.TempDir(), "hello.yaml")
	if err := os.WriteFile(recipe, []byte(`# a two-step recipe
name: cli-hello
base_template: base
steps:
  - mkdir -p /srv/app
  - echo built by the cli > /srv/app/motd && echo step two done
step_timeout_sec: 120
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("", nil, "template", "build", "-f", recipe, "--follow")
	if r.code != 0 {
		t.Fatalf("build --follow: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"==> step 1/2: mkdir -p /srv/app", "step two done", "succeeded: template cli-hello"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("build --follow output lacks %q:\n%s", want, r.stdout)
		}
	}

	var sb sandbox
	e.jsonOut(&sb, "sandbox", "create", "-t", "cli-hello", "--disk", "2048")
	t.Cleanup(func() { e.run("", nil, "sandbox", "kill", sb.ID) })
	if out := e.ok("sandbox", "exec", sb.ID, "--", "cat", "/srv/app/motd"); out != "built by the cli\n" {
		t.Fatalf("the template lacks the recipe's file: %q", out)
	}

	var builds []struct{ ID, Name, Status string }
	e.jsonOut(&builds, "build", "ls")
	if len(builds) != 1 || builds[0].Name != "cli-hello" || builds[0].Status != "succeeded" {
		t.Fatalf("build ls: %+v", builds)
	}
	if out := e.ok("build", "logs", builds[0].ID); !strings.Contains(out, "step two done") {
		t.Fatalf("build logs:\n%s", out)
	}

	// A failing step fails --follow with the build's error.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("name: cli-bad\nsteps: [\"echo about to fail\", \"exit 3\"]\n"), 0o644)
	if r := e.run("", nil, "template", "build", "-f", bad, "--follow"); r.code != 1 || !strings.Contains(r.stderr, "failed") {
		t.Fatalf("failing build: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	// A recipe with an unknown key is refused before anything is sent.
	typo := filepath.Join(t.TempDir(), "typo.yaml")
	_ = os.WriteFile(typo, []byte("name: x\nstep: [\"true\"]\n"), 0o644)
	if r := e.run("", nil, "template", "build", "-f", typo); r.code != 1 || !strings.Contains(r.stderr, "step") {
		t.Fatalf("typo recipe: exit %d, %q", r.code, r.stderr)
	}

	var nodes struct {
		Leader string
		Nodes  []struct{ ID string }
	}
	e.jsonOut(&nodes, "nodes", "ls")
	if len(nodes.Nodes) != 1 || nodes.Nodes[0].ID != n.ID.String() {
		t.Fatalf("nodes ls: %+v", nodes)
	}
	var drained struct{ Draining bool }
	e.jsonOut(&drained, "nodes", "drain", n.ID.String())
	if !drained.Draining {
		t.Fatal("drain did not drain")
	}
	e.jsonOut(&drained, "nodes", "undrain", n.ID.String())
	if drained.Draining {
		t.Fatal("undrain did not undrain")
	}

	var tpls []struct{ ID, Name string }
	e.jsonOut(&tpls, "template", "ls")
	raw, _ := json.Marshal(tpls)
	if !strings.Contains(string(raw), "cli-hello") {
		t.Fatalf("template ls: %s", raw)
	}
}
