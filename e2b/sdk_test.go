package e2b_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/warrenhq/warren/cluster"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/storetest"
)

var summaryRe = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed$`)

// TestSDK runs the unmodified e2b SDK (pinned, installed with npm) against a
// real node: testdata/sdk/main.mjs and its sections. SUITE_ONLY (a regexp of
// section file names) narrows it while working on one area.
func TestSDK(t *testing.T) {
	n, key := mustNode(t)
	runSuite(t, n, key, otherTeamKey(t, n))
}

// TestSDKCluster runs the same suite through the first node of a 3-node
// cluster while that node is drained: every sandbox lives on another node
// than the one the SDK talks to (the suite checks it).
func TestSDKCluster(t *testing.T) {
	db := storetest.NewDatabase(t)
	ckey := cluster.GenerateKey()
	entry := nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(ckey, true, 3))
	join := entry.GossipAddr()
	nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(ckey, true, 3, join))
	nodetest.Start(t, nodetest.WithDatabase(db), nodetest.WithCluster(ckey, true, 3, join))
	admin := map[string]string{"Authorization": "Bearer " + entry.APIKey}
	for deadline := time.Now().Add(time.Minute); ; {
		var v struct {
			Leader *string
			Nodes  []struct{ Status string }
		}
		call(t, "GET", entry.URL+"/v1/admin/nodes", admin, nil, &v)
		alive := 0
		for _, m := range v.Nodes {
			if m.Status == "alive" {
				alive++
			}
		}
		if alive == 3 && v.Leader != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 3 alive members with a leader within a minute: %+v", v)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := call(t, "POST", entry.URL+"/v1/admin/nodes/"+entry.ID.String()+"/drain", admin, nil, nil); st != 200 {
		t.Fatalf("drain: %d", st)
	}
	runSuite(t, entry, entry.Bootstrap.E2BAPIKey, otherTeamKey(t, entry), "SUITE_ENTRY_NODE="+entry.ID.String())
}

// runSuite runs testdata/sdk/main.mjs against n with the team key key and
// another team's key other, failing t on any failure and showing the output.
func runSuite(t *testing.T, n *nodetest.Node, key, other string, env ...string) {
	t.Helper()
	sdk := installSDK(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node (Node.js 20.18+) is needed to run the E2B SDK")
	}
	before := liveSandboxes(t, n, key)
	t.Cleanup(func() {
		// Whatever the script left behind when it failed half-way, by ID.
		var left []string
		for _, sb := range liveSandboxes(t, n, key) {
			if !contains(before, sb) {
				left = append(left, sb)
			}
		}
		if len(left) > 0 && !t.Failed() {
			t.Errorf("the SDK suite left live sandboxes: %v", left)
		}
		killAll(t, n, key, left)
	})
	script, _ := filepath.Abs("testdata/sdk/main.mjs")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(),
		"E2B_SDK_DIR="+sdk,
		"E2B_API_URL="+n.URL,
		"E2B_SANDBOX_URL="+n.URL,
		"E2B_DOMAIN=localhost", // getHost names <port>-<id>.localhost (the node's --sandbox-domain)
		"E2B_API_KEY="+key,
		"E2B_OTHER_API_KEY="+other,
		"WARREN_URL="+n.URL,
		"SUITE_RUN="+nodetest.RandomSuffix(6),
	)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("SDK suite output:\n%s", out)
	m := summaryRe.FindSubmatch(out)
	if m == nil {
		t.Fatalf("the SDK suite printed no summary (exit: %v)", err)
	}
	if string(m[2]) != "0" || err != nil {
		t.Fatalf("the SDK suite: %s passed, %s failed (exit: %v)", m[1], m[2], err)
	}
	if string(m[1]) == "0" {
		t.Fatal("the SDK suite ran no test")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
