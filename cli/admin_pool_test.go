package cli_test

import (
	"strings"
	"testing"

	"github.com/warrenhq/warren/api/client"
	"github.com/warrenhq/warren/node/nodetest"
)

// TestCLITemplatePool: `warren admin template pool` sets a template's pool
// by name with the class flags, refuses a missing or bad --count naming it,
// and empties the pool with --count 0.
func TestCLITemplatePool(t *testing.T) {
	n := nodetest.Start(t)
	e := newCLIEnv(t)
	e.env = append(e.env, "WARREN_URL="+n.URL, "WARREN_API_KEY="+n.APIKey)
	var p client.Pool
	e.jsonOut(&p, "admin", "template", "pool", "base", "--count", "1", "--memory-mb", "64", "--disk-size-mb", "1024", "--no-internet")
	if !strings.HasPrefix(p.TemplateID, "tpl-") || p.Count != 1 || p.MemoryMB != 64 || p.DiskSizeMB != 1024 || p.AllowInternet {
		t.Fatalf("pool set by the CLI: %+v", p)
	}
	if r := e.run("", nil, "admin", "template", "pool", "base"); r.code == 0 || !strings.Contains(r.stderr, "--count") {
		t.Fatalf("no --count: exit %d, %q", r.code, r.stderr)
	}
	if r := e.run("", nil, "admin", "template", "pool", "base", "--count", "-1"); r.code == 0 || !strings.Contains(r.stderr, "count") {
		t.Fatalf("--count -1: exit %d, %q", r.code, r.stderr)
	}
	if r := e.run("", nil, "admin", "template", "pool", "no-such", "--count", "1"); r.code == 0 || !strings.Contains(r.stderr, `no template named "no-such"`) {
		t.Fatalf("unknown template: exit %d, %q", r.code, r.stderr)
	}
	out := e.ok("admin", "template", "pool", p.TemplateID, "--count", "0", "--memory-mb", "64", "--disk-size-mb", "1024", "--no-internet")
	if !strings.Contains(out, "COUNT") || !strings.Contains(out, p.TemplateID) {
		t.Fatalf("table:\n%s", out)
	}
}
