package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
	"github.com/warrenhq/warren/store/storetest"
)

// fakeBaseNode is one node's side of a baseFormer race: a set of images for
// a pool, a build that records the template row like buildBase, and a pull
// that copies from a peer's replica.
type fakeBaseNode struct {
	id     id.NodeID
	mu     sync.Mutex
	images map[id.TemplateID]bool
	builds *atomic.Int32
	pulls  atomic.Int32
	gate   chan struct{} // build blocks until closed (nil: no wait)
	start  chan struct{} // closed when build begins (nil: none)
	state  formingState
}

func (n *fakeBaseNode) former(st *store.Store) *baseFormer {
	return &baseFormer{
		st: st, node: n.id, state: &n.state, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		have: func(_ context.Context, tpl id.TemplateID) (bool, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			return n.images[tpl], nil
		},
		build: func(ctx context.Context) error {
			n.builds.Add(1)
			if n.start != nil {
				close(n.start)
			}
			if n.gate != nil {
				select {
				case <-n.gate:
				case <-ctx.Done():
					return ctx.Err() // the builder dies mid-build
				}
			}
			tid := id.NewTemplateID()
			err := st.Tx(ctx, func(q *db.Queries) error {
				if _, err := q.CreateTemplate(ctx, db.CreateTemplateParams{ID: tid, TeamID: id.PlatformTeamID, Name: BaseTemplate,
					Type: "image", Vcpus: 1, MemoryMb: 512, SizeBytes: 1 << 20}); err != nil {
					return store.Map(err)
				}
				return store.Map(q.UpsertTemplateReplica(ctx, db.UpsertTemplateReplicaParams{TemplateID: tid, NodeID: n.id,
					Path: "/fake/" + tid.String(), Bytes: 1 << 20, Checksum: "sum"}))
			})
			if err == nil {
				n.mu.Lock()
				n.images[tid] = true
				n.mu.Unlock()
			}
			return err
		},
		pull: func(ctx context.Context, tpl id.TemplateID) error {
			reps, err := st.ListTemplateReplicas(ctx, tpl)
			if err != nil {
				return err
			}
			for _, r := range reps {
				if r.NodeID != n.id {
					n.pulls.Add(1)
					n.mu.Lock()
					n.images[tpl] = true
					n.mu.Unlock()
					return store.Map(st.UpsertTemplateReplica(ctx, db.UpsertTemplateReplicaParams{TemplateID: tpl, NodeID: n.id,
						Path: "/fake/" + tpl.String(), Bytes: r.Bytes, Checksum: r.Checksum}))
				}
			}
			return fmt.Errorf("no peer holds %s", tpl)
		},
		reimport: func(context.Context, id.TemplateID) error { return fmt.Errorf("reimport must not run here") },
		poll:     50 * time.Millisecond, pullFor: time.Minute,
	}
}

func newFakeBaseNodes(t *testing.T, st *store.Store, count int, builds *atomic.Int32) []*fakeBaseNode {
	t.Helper()
	var out []*fakeBaseNode
	for i := range count {
		n := &fakeBaseNode{id: id.NewNodeID(), images: map[id.TemplateID]bool{}, builds: builds}
		if _, err := st.UpsertNode(context.Background(), db.UpsertNodeParams{ID: n.id, Name: fmt.Sprintf("fake-%d", i), HttpAddr: "127.0.0.1:1", Role: "server"}); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// TestFormingSecondEnsureBaseWaits: while one node builds the base (holding
// the lock), a second one neither fails nor builds: it reports in readyz's
// words which node builds, and pulls once the row appears.
func TestFormingSecondEnsureBaseWaits(t *testing.T) {
	st := storetest.New(t)
	var builds atomic.Int32
	nodes := newFakeBaseNodes(t, st, 2, &builds)
	a, b := nodes[0], nodes[1]
	a.gate, a.start = make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { errA <- a.former(st).run(ctx) }()
	select {
	case <-a.start:
	case err := <-errA:
		t.Fatalf("first former returned before building: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("first former did not start building")
	}
	if got := a.state.get(); !strings.Contains(got, "building it here") {
		t.Fatalf("builder's readyz state = %q, want it to say it builds", got)
	}
	go func() { errB <- b.former(st).run(ctx) }()
	want := "base template (built by " + a.id.String() + ")"
	deadline := time.Now().Add(10 * time.Second)
	for b.state.get() != want {
		select {
		case err := <-errB:
			t.Fatalf("second former returned while the first builds: %v (state %q)", err, b.state.get())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("second former's readyz state = %q, want %q", b.state.get(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // several polls: it keeps waiting
	select {
	case err := <-errB:
		t.Fatalf("second former gave up while the first builds: %v", err)
	default:
	}
	close(a.gate)
	for name, ch := range map[string]chan error{"first": errA, "second": errB} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("%s former: %v", name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s former did not finish", name)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Fatalf("builds = %d, want 1", n)
	}
	if n := b.pulls.Load(); n != 1 {
		t.Fatalf("second node pulled %d times, want 1", n)
	}
	if a.state.get() != "" || b.state.get() != "" {
		t.Fatalf("readyz states after forming: %q, %q; want both empty", a.state.get(), b.state.get())
	}
}

// TestFormingManyAtOnce: eight formers started together over one database
// build the base exactly once and all end holding it.
func TestFormingManyAtOnce(t *testing.T) {
	st := storetest.New(t)
	var builds atomic.Int32
	nodes := newFakeBaseNodes(t, st, 8, &builds)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go1 := make(chan struct{})
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() {
			<-go1
			errs <- n.former(st).run(ctx)
		}()
	}
	close(go1)
	for range nodes {
		if err := <-errs; err != nil {
			t.Fatalf("a former failed: %v", err)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Fatalf("builds = %d, want 1", n)
	}
	var rows int
	if err := st.Pool.QueryRow(ctx, "SELECT count(*) FROM templates WHERE team_id = $1 AND name = $2", id.PlatformTeamID, BaseTemplate).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("base template rows = %d, want 1", rows)
	}
	var pulls int32
	for _, n := range nodes {
		pulls += n.pulls.Load()
		if len(n.images) != 1 {
			t.Fatalf("node %s holds %d images, want 1", n.id, len(n.images))
		}
	}
	if pulls != int32(len(nodes)-1) {
		t.Fatalf("pulls = %d, want %d", pulls, len(nodes)-1)
	}
}

// TestFormingBuilderDiesMidBuild: when the session of the node holding the
// base lock dies mid-build (as with the node's crash: Postgres ends the
// backend), the lock goes with it and the waiting node builds the base
// itself. When the first builder then finishes after all, its row conflicts
// with the new one: benign, it pulls instead of failing.
func TestFormingBuilderDiesMidBuild(t *testing.T) {
	st := storetest.New(t)
	var builds atomic.Int32
	nodes := newFakeBaseNodes(t, st, 2, &builds)
	a, b := nodes[0], nodes[1]
	a.gate, a.start = make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { errA <- a.former(st).run(ctx) }()
	select {
	case <-a.start:
	case <-time.After(10 * time.Second):
		t.Fatal("first former did not start building")
	}
	go func() { errB <- b.former(st).run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.state.get(), a.id.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("second former's state = %q, want it to wait for %s", b.state.get(), a.id)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var killed bool
	if err := st.Pool.QueryRow(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
		baseLockApp+a.id.String()).Scan(&killed); err != nil || !killed {
		t.Fatalf("ending the builder's session: %v %v", killed, err)
	}
	select {
	case err := <-errB:
		if err != nil {
			t.Fatalf("second former: %v", err)
		}
	case err := <-errA:
		t.Fatalf("first former returned before the takeover: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatalf("second former did not take over (state %q)", b.state.get())
	}
	if n := b.pulls.Load(); n != 0 {
		t.Fatalf("second node pulled %d times, want 0 (it built)", n)
	}
	close(a.gate) // the first builder finishes after all
	select {
	case err := <-errA:
		if err != nil {
			t.Fatalf("first former after its late build: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("first former did not finish")
	}
	if n := builds.Load(); n != 2 {
		t.Fatalf("builds = %d, want 2 (the cut-off one and the takeover)", n)
	}
	if n := a.pulls.Load(); n != 1 {
		t.Fatalf("first node pulled %d times, want 1", n)
	}
	var rows int
	if err := st.Pool.QueryRow(ctx, "SELECT count(*) FROM templates WHERE team_id = $1 AND name = $2", id.PlatformTeamID, BaseTemplate).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("base template rows = %d, want 1", rows)
	}
}
