package node_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/node"
	"github.com/warrenhq/warren/node/nodetest"
	"github.com/warrenhq/warren/store/db"
)

// TestBuildQueueConcurrency: 20 builds queued at once on a node with 2
// workers run at most 2 at a time, and every one succeeds.
func TestBuildQueueConcurrency(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, func(cfg *node.Config) { cfg.BuildWorkers = 2 })
	c := newBClient(n)
	var ids []string
	for i := range 20 {
		b := c.submit(t, map[string]any{"name": fmt.Sprintf("q%02d", i), "disk_size_mb": 1024,
			"recipe": []string{fmt.Sprintf("echo %d > /n", i)}})
		ids = append(ids, b.ID)
	}
	maxRunning, polls := 0, 0
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r := c.call(t, "GET", "/v1/admin/builds?status=running&limit=200", nil)
		if r.status != 200 {
			t.Fatalf("list running: %s", r)
		}
		var l struct{ Items []buildJSON }
		r.into(t, &l)
		polls++
		maxRunning = max(maxRunning, len(l.Items))
		r = c.call(t, "GET", "/v1/admin/builds?status=queued&limit=200", nil)
		var q struct{ Items []buildJSON }
		r.into(t, &q)
		if len(l.Items) == 0 && len(q.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("builds still running (%d) or queued (%d) after 3 minutes", len(l.Items), len(q.Items))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("max running at once: %d over %d polls", maxRunning, polls)
	if maxRunning > 2 || maxRunning == 0 {
		t.Errorf("max running at once %d, want 1..2", maxRunning)
	}
	tpls := c.templates(t)
	for i, id := range ids {
		b := c.build(t, id)
		if b.Status != "succeeded" {
			t.Errorf("build %s: %s (%s)", id, b.Status, b.Error)
		}
		if tpl := tpls[fmt.Sprintf("q%02d", i)]; tpl.BuildID != id || tpl.Type != "image" {
			t.Errorf("template q%02d: %+v", i, tpl)
		}
	}
	// Newest first, paginated.
	r := c.call(t, "GET", "/v1/admin/builds?limit=15", nil)
	var page struct {
		Items      []buildJSON
		NextCursor string `json:"next_cursor"`
	}
	r.into(t, &page)
	if len(page.Items) != 15 || page.NextCursor == "" || page.Items[0].ID != ids[19] {
		t.Fatalf("first page: %d items, cursor %q, first %v", len(page.Items), page.NextCursor, page.Items[0].ID)
	}
	r = c.call(t, "GET", "/v1/admin/builds?limit=15&cursor="+page.NextCursor, nil)
	var page2 struct {
		Items      []buildJSON
		NextCursor string `json:"next_cursor"`
	}
	r.into(t, &page2)
	if len(page2.Items) != 5 || page2.NextCursor != "" || page2.Items[4].ID != ids[0] {
		t.Errorf("second page: %d items, cursor %q", len(page2.Items), page2.NextCursor)
	}
}

// TestBuildQueueSurvivesRestart: a build queued on a node that stops is run by
// the node when it opens again; the one it was running when it stopped, and
// one it was running when it "crashed", are failed with a clear message, never
// left running.
func TestBuildQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	n := nodetest.Start(t, func(cfg *node.Config) { cfg.BuildWorkers = 1 })
	c := newBClient(n)
	var ids []string
	for i := range 3 {
		b := c.submit(t, map[string]any{"name": fmt.Sprintf("durable%d", i), "disk_size_mb": 1024,
			"recipe": []string{"true", "sleep 3"}})
		ids = append(ids, b.ID)
	}
	// Stop the node while the first build is in its second step.
	if b := c.waitBuild(t, ids[0], 60*time.Second, "in step 2", func(b buildJSON) bool { return b.CurrentStep == 1 || b.done() }); b.done() {
		t.Fatalf("the first build ended before the stop: %+v", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The third build stands for one this node was running when it crashed:
	// claimed for the node, but run by no worker.
	bid, err := id.ParseBuildID(ids[2])
	if err != nil {
		t.Fatal(err)
	}
	nodeID := n.ID.UUID()
	term, err := n.Store().GetFence(ctx) // the term of the node's leadership, in office
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Store().ClaimBuild(ctx, db.ClaimBuildParams{ID: bid, NodeID: &nodeID, LeaderTerm: term}); err != nil {
		t.Fatalf("claiming build %s by hand: %v", bid, err)
	}
	if err := n.Close(ctx); err != nil {
		t.Fatalf("closing the node: %v", err)
	}
	log := slog.New(slog.NewTextHandler(tlog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n2, err := node.Open(ctx, n.Config, log)
	if err != nil {
		t.Fatalf("reopening the node: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := n2.Close(cctx); err != nil {
			t.Errorf("closing the reopened node: %v", err)
		}
	})
	c2 := &bclient{n: n, url: "http://" + n2.HTTPAddr(), key: n.APIKey}
	first := c2.finish(t, ids[0], "failed", 10*time.Second)
	if !strings.Contains(first.Error, "again") {
		t.Errorf("the build cut short by the stop: error %q", first.Error)
	}
	crashed := c2.finish(t, ids[2], "failed", 10*time.Second)
	if !strings.Contains(crashed.Error, "restarted") {
		t.Errorf("the build running on the node when it crashed: error %q", crashed.Error)
	}
	c2.finish(t, ids[1], "succeeded", 60*time.Second)
}

// tlog routes the reopened node's log through t.
type tlog struct{ t *testing.T }

func (w tlog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
