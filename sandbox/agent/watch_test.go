package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

// waitEvent reads watch events until one with name and op arrives.
func waitEvent(t *testing.T, s agentv1.Agent_WatchClient, name string, op agentv1.WatchOp) {
	t.Helper()
	for {
		m, err := s.Recv()
		if err != nil {
			t.Fatalf("waiting for %s %s: %v", op, name, err)
		}
		if ev := m.GetEvent(); ev.GetName() == name && ev.GetOp() == op {
			return
		}
	}
}

func TestWatchStreamRecursive(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	if err := os.MkdirAll(filepath.Join(a.root, "w/old"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := a.Raw().Watch(ctx, &agentv1.WatchRequest{Path: "/w", Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.Recv(); err != nil || !m.Started {
		t.Fatalf("first watch message %v, %v; want started", m, err)
	}
	write := func(rel, data string) {
		if err := os.WriteFile(filepath.Join(a.root, "w", rel), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "x")
	waitEvent(t, s, "a.txt", agentv1.WatchOp_WATCH_OP_CREATE)
	waitEvent(t, s, "a.txt", agentv1.WatchOp_WATCH_OP_WRITE)
	write("old/b.txt", "y") // a directory that existed before the watch
	waitEvent(t, s, "old/b.txt", agentv1.WatchOp_WATCH_OP_CREATE)
	if err := os.Mkdir(filepath.Join(a.root, "w/new"), 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s, "new", agentv1.WatchOp_WATCH_OP_CREATE)
	write("new/c.txt", "z") // a directory created after the watch
	waitEvent(t, s, "new/c.txt", agentv1.WatchOp_WATCH_OP_CREATE)
	if err := os.Rename(filepath.Join(a.root, "w/a.txt"), filepath.Join(a.root, "w/d.txt")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s, "a.txt", agentv1.WatchOp_WATCH_OP_RENAME)
	waitEvent(t, s, "d.txt", agentv1.WatchOp_WATCH_OP_CREATE)
	if err := os.Remove(filepath.Join(a.root, "w/d.txt")); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, s, "d.txt", agentv1.WatchOp_WATCH_OP_REMOVE)
	// Removing the watched directory ends the stream with NotFound.
	if err := os.RemoveAll(filepath.Join(a.root, "w")); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := s.Recv()
		if err != nil {
			if status.Code(err) != codes.NotFound {
				t.Fatalf("after removing the directory: %v, want NotFound", err)
			}
			break
		}
	}
}

func TestWatchRefusals(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	if err := os.WriteFile(filepath.Join(a.root, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/../../..", filepath.Join(a.root, "up")); err != nil {
		t.Fatal(err)
	}
	for path, code := range map[string]codes.Code{"": codes.InvalidArgument, "/nope": codes.NotFound, "/f": codes.InvalidArgument} {
		if _, err := a.Raw().CreateWatcher(ctx, &agentv1.WatchRequest{Path: path}); status.Code(err) != code {
			t.Errorf("watch %q: %v, want %s", path, err, code)
		}
	}
	// A symlink pointing above the root resolves to the root itself.
	w, err := a.Raw().CreateWatcher(ctx, &agentv1.WatchRequest{Path: "/up"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.root, "inside"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := a.Raw().WatcherEvents(ctx, &agentv1.WatcherEventsRequest{WatcherId: w.WatcherId})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Events) > 0 && r.Events[0].Name == "inside" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event for a file created in the root through /up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := a.Raw().RemoveWatcher(ctx, &agentv1.RemoveWatcherRequest{WatcherId: w.WatcherId}); err != nil {
		t.Fatal(err)
	}
}

// The polled trio buffers events, is bounded in count and in events, and
// forgets removed watchers.
func TestWatcherTrioBounds(t *testing.T) {
	a := startAgent(t)
	ctx := testCtx(t)
	dir := filepath.Join(a.root, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < maxWatchers; i++ {
		r, err := a.Raw().CreateWatcher(ctx, &agentv1.WatchRequest{Path: "/d"})
		if err != nil {
			t.Fatalf("watcher %d: %v", i, err)
		}
		ids = append(ids, r.WatcherId)
	}
	if _, err := a.Raw().CreateWatcher(ctx, &agentv1.WatchRequest{Path: "/d"}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("watcher %d: %v, want ResourceExhausted", maxWatchers, err)
	}
	// Far more events than a watcher buffers: it fails, and is then removed.
	// Each write makes at least two events; four times the bound means the
	// agent's reader, which runs while the writes go on, has passed the
	// bound long before the writes end even on a loaded host (a single
	// bound's worth plus 200 ms was once 984 events short on CI).
	for i := 0; i <= 4*maxWatchEvents; i++ {
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte{byte(i)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	r, err := a.Raw().WatcherEvents(ctx, &agentv1.WatcherEventsRequest{WatcherId: ids[0]})
	if err != nil || len(r.Events) != maxWatchEvents {
		t.Fatalf("first poll: %d events, %v; want %d", len(r.GetEvents()), err, maxWatchEvents)
	}
	if _, err := a.Raw().WatcherEvents(ctx, &agentv1.WatcherEventsRequest{WatcherId: ids[0]}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second poll: %v, want ResourceExhausted", err)
	}
	if _, err := a.Raw().WatcherEvents(ctx, &agentv1.WatcherEventsRequest{WatcherId: ids[0]}); status.Code(err) != codes.NotFound {
		t.Fatalf("poll after failure: %v, want NotFound", err)
	}
	for _, id := range ids[1:] {
		if _, err := a.Raw().RemoveWatcher(ctx, &agentv1.RemoveWatcherRequest{WatcherId: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Raw().RemoveWatcher(ctx, &agentv1.RemoveWatcherRequest{WatcherId: ids[1]}); status.Code(err) != codes.NotFound {
		t.Fatalf("remove twice: %v, want NotFound", err)
	}
	if _, err := a.Raw().CreateWatcher(context.Background(), &agentv1.WatchRequest{Path: "/d"}); err != nil {
		t.Fatalf("after removing: %v", err)
	}
}
