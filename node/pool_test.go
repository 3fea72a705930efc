package node_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// poolBody is the class the pool tests use: small, so a pool is cheap.
func poolBody(count int) map[string]any {
	return map[string]any{"count": count, "memory_mb": 64, "disk_size_mb": 1024}
}

// pooled returns the IDs of the node's ready pooled sandboxes.
func pooled(t testing.TB, n *nodetest.Node) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := n.ID.UUID()
	rows, err := n.Store().ListNodePooledSandboxes(ctx, &u)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		if r.Ip != "" {
			out = append(out, r.ID.String())
		}
	}
	return out
}

// waitPooled waits (bounded) until the node holds exactly want ready pooled
// sandboxes and nothing is being started for its pools.
func waitPooled(t testing.TB, n *nodetest.Node, want int) []string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ids := pooled(t, n)
		if len(ids) == want {
			return ids
		}
		if time.Now().After(deadline) {
			t.Fatalf("pooled sandboxes: %d %v, want %d", len(ids), ids, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requireGone checks that sandboxes ids have no row left live and, within a
// bound (a lowered pool's refill ends the row, then destroys), no host
// object.
func requireGone(t testing.TB, n *nodetest.Node, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	prefix := hostPrefix(t, n.DataDir)
	for _, s := range ids {
		sb, err := id.ParseSandboxID(s)
		if err != nil {
			t.Fatal(err)
		}
		row, err := n.Store().GetSandbox(ctx, sb)
		if err != nil || row.Status == "pooled" || row.Status == "running" {
			t.Fatalf("pooled sandbox %s after teardown: %s %v", s, row.Status, err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			h := sandboxHostObjects(t, n.DataDir, prefix, s)
			if h.empty() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pooled sandbox %s left host objects: %s", s, h)
			}
		}
	}
}

func baseTemplate(t testing.TB, n *nodetest.Node) db.Template {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tpl, err := n.Store().GetPlatformOrAnyTemplateByName(ctx, "base")
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestWarmPool: an admin sets a pool; the node fills it; a team's create of
// the pool's class claims a pooled sandbox, which then has the caller's
// env, metadata, timeout, quota use and a new access token, and none of the
// pool's state (same hostname, env, files and processes as a cold one); the
// pool refills after the claim, shrinks when lowered, empties on drain and
// refills on undrain; a template delete leaves no pooled sandbox or host
// object behind. Pooled sandboxes are the admin's to see, never a team's.
func TestWarmPool(t *testing.T) {
	n := nodetest.Start(t)
	admin := newAPI(n)
	key := admin.teamKey(t, "pool-team")
	tc := &api{url: n.URL, key: key}
	tpl := baseTemplate(t, n)
	poolPath := "/v1/admin/templates/" + tpl.ID.String() + "/pool"

	// Bad input names the field; only admins set pools.
	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{}, "count"},
		{map[string]any{"count": -1}, "count"},
		{map[string]any{"count": 101}, "count"},
		{map[string]any{"count": 1, "memory_mb": 1}, "memory_mb"},
		{map[string]any{"count": 1, "disk_size_mb": 1}, "disk_size_mb"},
	} {
		r := admin.do(t, "PUT", poolPath, bad.body)
		if r.status != 400 || r.apiErr(t).Error.Field != bad.field {
			t.Errorf("PUT pool %v: %s, want 400 naming %s", bad.body, r, bad.field)
		}
	}
	if r := admin.do(t, "PUT", "/v1/admin/templates/"+id.NewTemplateID().String()+"/pool", poolBody(1)); r.status != 404 {
		t.Errorf("pool of an unknown template: %s, want 404", r)
	}
	if r := tc.do(t, "PUT", poolPath, poolBody(1)); r.status != 403 {
		t.Errorf("a team key sets a pool: %s, want 403", r)
	}

	if r := admin.do(t, "POST", poolPath, poolBody(2)); r.status != 200 || !strings.Contains(string(r.body), `"count":2`) {
		t.Fatalf("POST pool: %s", r)
	}
	first := waitPooled(t, n, 2)

	// Admins see them as pooled; teams never.
	r := admin.do(t, "GET", "/v1/admin/sandboxes?state=pooled&limit=200", nil)
	for _, s := range first {
		if !strings.Contains(string(r.body), s) {
			t.Fatalf("admin list lacks pooled %s: %s", s, r)
		}
	}
	for _, k := range []string{key, n.APIKey} {
		if g := tc.do(t, "GET", "/v1/sandboxes/"+first[0], nil, k); g.status != 404 {
			t.Fatalf("a team GETs a pooled sandbox: %s, want 404", g)
		}
		if l := tc.do(t, "GET", "/v1/sandboxes?limit=200", nil, k); strings.Contains(string(l.body), first[0]) {
			t.Fatalf("a team's list shows a pooled sandbox: %s", l)
		}
	}

	// A cold sandbox to compare with: another class, so it does not claim.
	cold := tc.create(t, map[string]any{"memory_mb": 96, "timeout_sec": 600})
	start := time.Now()
	claimed := tc.create(t, map[string]any{"memory_mb": 64, "timeout_sec": 123,
		"env": map[string]string{"POOL_TEST": "claimed"}, "metadata": map[string]string{"owner": "pool-test"}})
	if !slices.Contains(first, claimed.ID) {
		t.Fatalf("create of the pool's class started %s, not one of the pooled %v", claimed.ID, first)
	}
	if claimed.TimeoutSec != 123 || claimed.MemoryMB != 64 || claimed.ExpiresAt == nil ||
		claimed.ExpiresAt.Before(start.Add(120*time.Second)) || claimed.ExpiresAt.After(time.Now().Add(124*time.Second)) {
		t.Fatalf("claimed sandbox: %+v, want timeout 123 counted from the claim", claimed)
	}
	var full struct {
		Metadata map[string]string `json:"metadata"`
	}
	tc.do(t, "GET", "/v1/sandboxes/"+claimed.ID, nil).decode(t, &full)
	if full.Metadata["owner"] != "pool-test" || len(full.Metadata) != 1 {
		t.Fatalf("claimed sandbox's metadata: %v", full.Metadata)
	}
	if got := tc.sh(t, claimed.ID, "echo $POOL_TEST"); got != "claimed\n" {
		t.Fatalf("claimed sandbox's env: %q", got)
	}
	// Nothing of the pool's own: the same hostname, env (less the caller's),
	// files and processes as the cold sandbox.
	state := "hostname; env | grep -v -e ^POOL_TEST= -e ^PWD= | sort; ls -A / /tmp /root /home /run 2>&1"
	if c, w := tc.sh(t, claimed.ID, state), tc.sh(t, cold.ID, state); c != w {
		t.Fatalf("claimed sandbox differs from a cold one:\n%s\n--- cold:\n%s", c, w)
	}
	tc.noLeftovers(t, claimed.ID)

	// A new access token: the generation-0 one (which the pooled sandbox
	// had) is refused, the claim's is accepted.
	sb, _ := id.ParseSandboxID(claimed.ID)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	row, err := n.Store().GetSandbox(ctx, sb)
	if err != nil || row.TokenGen != 1 || row.TeamID.String() != admin.teamID(t, key) {
		t.Fatalf("claimed row: gen %d team %s %v", row.TokenGen, row.TeamID, err)
	}
	authz := n.Signer().Authorizer(n.Store())
	if _, err := authz(ctx, sb, n.Signer().AccessToken(sb)); err == nil {
		t.Fatal("the pooled sandbox's token still opens the claimed sandbox")
	}
	if team, err := authz(ctx, sb, n.Signer().AccessTokenGen(sb, row.TokenGen)); err != nil || team != row.TeamID {
		t.Fatalf("the claimed token: %v %v", team, err)
	}

	// The claimed sandbox counts against the team's quota.
	if q := tc.quota(t, "/v1/team/quota"); q.Usage.Sandboxes != 2 || q.Usage.MemoryMB != 64+96 {
		t.Fatalf("team usage with a claimed sandbox: %+v", q.Usage)
	}

	// The pool refills after the claim...
	refilled := waitPooled(t, n, 2)
	if slices.Contains(refilled, claimed.ID) {
		t.Fatalf("the claimed sandbox is still pooled: %v", refilled)
	}
	// ...and shrinks when lowered.
	if r := admin.do(t, "PUT", poolPath, poolBody(1)); r.status != 200 {
		t.Fatalf("PUT pool 1: %s", r)
	}
	kept := waitPooled(t, n, 1)
	var dropped []string
	for _, s := range refilled {
		if s != kept[0] {
			dropped = append(dropped, s)
		}
	}
	requireGone(t, n, dropped)

	// Drain ends the pooled sandboxes before it answers; undrain refills.
	nodePath := "/v1/admin/nodes/" + n.ID.String()
	if r := admin.do(t, "POST", nodePath+"/drain", nil); r.status != 200 {
		t.Fatalf("drain: %s", r)
	}
	if ids := pooled(t, n); len(ids) != 0 {
		t.Fatalf("pooled after drain: %v", ids)
	}
	requireGone(t, n, kept)
	if r := admin.do(t, "POST", nodePath+"/undrain", nil); r.status != 200 {
		t.Fatalf("undrain: %s", r)
	}
	last := waitPooled(t, n, 1)

	// A template delete (once no live sandbox uses it) ends its pooled
	// sandboxes and its pool.
	for _, s := range []string{claimed.ID, cold.ID} {
		if r := tc.do(t, "DELETE", "/v1/sandboxes/"+s, nil); r.status != 200 {
			t.Fatalf("kill %s: %s", s, r)
		}
	}
	if r := admin.do(t, "DELETE", "/v1/templates/"+tpl.ID.String(), nil); r.status != 200 && r.status != 204 {
		t.Fatalf("delete template: %s", r)
	}
	requireGone(t, n, last)
	var pools struct {
		Pools []json.RawMessage `json:"pools"`
	}
	admin.do(t, "GET", "/v1/admin/pools", nil).decode(t, &pools)
	if len(pools.Pools) != 0 {
		t.Fatalf("pools after the template's delete: %s", pools.Pools)
	}
}

// TestWarmPoolShutdown: a node that shuts down leaves no pooled sandbox
// running, recorded or on the host.
func TestWarmPoolShutdown(t *testing.T) {
	n := nodetest.Start(t)
	admin := newAPI(n)
	tpl := baseTemplate(t, n)
	if r := admin.do(t, "PUT", "/v1/admin/templates/"+tpl.ID.String()+"/pool", poolBody(1)); r.status != 200 {
		t.Fatalf("PUT pool: %s", r)
	}
	ids := waitPooled(t, n, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, n.Config.DatabaseURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	prefix := hostPrefix(t, n.DataDir)
	for _, s := range ids {
		sb, _ := id.ParseSandboxID(s)
		if row, err := st.GetSandbox(ctx, sb); err != nil || row.Status != "killed" {
			t.Fatalf("pooled sandbox %s after shutdown: %s %v, want killed", s, row.Status, err)
		}
		if h := sandboxHostObjects(t, n.DataDir, prefix, s); !h.empty() {
			t.Fatalf("pooled sandbox %s left host objects: %s", s, h)
		}
	}
}
