package node_test

import (
	"strings"
	"syscall"
	"testing"

	"github.com/warrenhq/warren/node/nodetest"
)

// TestNodeLogJSON reads the whole log of a `warren node` (JSON lines) at debug
// level through a start, a sandbox's create, exec and kill, and a graceful
// stop: every line is one JSON object whose keys are unique, with the node's
// ID once and components as paths (cluster.raft).
func TestNodeLogJSON(t *testing.T) {
	t.Parallel()
	p := nodetest.NewProc(t, nodetest.ProcArgs("--log-level", "debug"))
	p.Start()
	a := &api{url: p.URL, key: p.APIKey()}
	sb := a.create(t, nil)
	if out := a.sh(t, sb.ID, "echo hi"); strings.TrimSpace(out) != "hi" {
		t.Fatalf("exec: %q", out)
	}
	a.do(t, "DELETE", "/v1/sandboxes/"+sb.ID, nil)
	p.Stop(syscall.SIGTERM)

	// The log holds stdout too, where the node prints its first-start banner.
	var lines []string
	for _, line := range strings.Split(p.Logs(), "\n") {
		if !strings.HasPrefix(line, "{") && isBanner(line) {
			continue
		}
		lines = append(lines, line)
	}
	components := map[string]int{}
	for i, line := range lines {
		obj, err := uniqueKeys(line)
		if err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		if c, ok := obj["component"].(string); ok {
			components[c]++
		}
		if obj["msg"] == nil || obj["level"] == nil || obj["time"] == nil {
			t.Errorf("line %d lacks msg, level or time: %s", i+1, line)
		}
	}
	if len(lines) < 20 {
		t.Fatalf("only %d log lines at debug level: the test reads too little", len(lines))
	}
	for _, want := range []string{"cluster", "cluster.raft"} {
		if components[want] == 0 {
			t.Errorf("no line of component %q; components seen: %v", want, components)
		}
	}
	t.Logf("%d lines, all JSON with unique keys; components %v", len(lines), components)
}

// isBanner reports whether line is part of what a first start prints on stdout.
func isBanner(line string) bool {
	line = strings.TrimSpace(line)
	for _, p := range []string{"Warren is ready at ", "admin login: ", "API key: ", "E2B API key: ", "team: ", "(shown once", "try: curl "} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return line == ""
}
