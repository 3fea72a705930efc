package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/warrenhq/warren/api/client"
	"github.com/warrenhq/warren/node/nodetest"
)

// TestCLITeamQuota: `warren admin team quota` shows a team's quota, changes
// only the limits given (by team name or ID), returns one to the default,
// refuses bad values naming the flag; `warren quota` shows the caller's.
func TestCLITeamQuota(t *testing.T) {
	n := nodetest.Start(t)
	e := newCLIEnv(t)
	c, err := client.New(n.URL, n.APIKey)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := c.CreateTeam(context.Background(), "cli-quota")
	if err != nil {
		t.Fatal(err)
	}
	e.env = append(e.env, "WARREN_URL="+n.URL, "WARREN_API_KEY="+n.APIKey)
	def := n.Config.Limits.Team

	var q client.Quota
	e.jsonOut(&q, "admin", "team", "quota", "cli-quota", "--sandboxes", "3", "--vcpus", "2.5")
	if q.TeamID != tm.ID || q.Limits.MaxSandboxes != 3 || q.Limits.MaxVCPUs != 2.5 || q.Limits.MaxMemoryMB != def.MemoryMB || q.Team.MaxMemoryMB != nil {
		t.Fatalf("after --sandboxes 3 --vcpus 2.5: %+v", q)
	}
	// Only the flags given change.
	e.jsonOut(&q, "admin", "team", "quota", tm.ID, "--disk-mb", "0", "--sandboxes", "default")
	if q.Team.MaxSandboxes != nil || q.Limits.MaxSandboxes != def.Sandboxes || q.Limits.MaxVCPUs != 2.5 || q.Limits.MaxDiskMB != 0 {
		t.Fatalf("after --disk-mb 0 --sandboxes default: %+v", q)
	}
	out := e.ok("admin", "team", "quota", "cli-quota")
	for _, want := range []string{"team " + tm.ID, "vcpus", "2.5", "team", "disk_mb", "unlimited", "default"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table without %q:\n%s", want, out)
		}
	}
	if r := e.run("", nil, "admin", "team", "quota", "cli-quota", "--memory-mb", "-5"); r.code == 0 || !strings.Contains(r.stderr, "--memory-mb") {
		t.Fatalf("--memory-mb -5: exit %d, %q", r.code, r.stderr)
	}
	if r := e.run("", nil, "admin", "team", "quota", "cli-quota", "--vcpus", "1e9"); r.code == 0 || !strings.Contains(r.stderr, "max_vcpus") {
		t.Fatalf("--vcpus 1e9: exit %d, %q", r.code, r.stderr)
	}
	if r := e.run("", nil, "admin", "team", "quota", "no-such-team"); r.code == 0 || !strings.Contains(r.stderr, `no team named "no-such-team"`) {
		t.Fatalf("unknown team: exit %d, %q", r.code, r.stderr)
	}
	e.jsonOut(&q, "quota")
	if q.TeamID == tm.ID || q.Limits.MaxSandboxes != def.Sandboxes {
		t.Fatalf("warren quota for the admin's team: %+v", q)
	}
}
