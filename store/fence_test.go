package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
	"github.com/warrenhq/warren/store/storetest"
)

func fence(t *testing.T, st *store.Store) int64 {
	t.Helper()
	f, err := st.GetFence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestAdvanceFenceIsMonotonic(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	if f := fence(t, st); f != 0 {
		t.Fatalf("a fresh database's fence is %d, want 0", f)
	}
	if err := st.AdvanceFence(ctx, 0); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("AdvanceFence(0) = %v, want ErrInvalid", err)
	}
	for _, term := range []uint64{3, 3, 7} { // raising to the term in office again is a no-op
		if err := st.AdvanceFence(ctx, term); err != nil {
			t.Fatalf("AdvanceFence(%d): %v", term, err)
		}
		if f := fence(t, st); f != int64(term) {
			t.Fatalf("after AdvanceFence(%d) the fence is %d", term, f)
		}
	}
	err := st.AdvanceFence(ctx, 5)
	var fe *store.FenceError
	if !errors.Is(err, store.ErrFenced) || !errors.As(err, &fe) || fe.Term != 5 || fe.Fence != 7 {
		t.Fatalf("AdvanceFence(5) below the fence at 7 = %v, want a FenceError{5, 7}", err)
	}
	if f := fence(t, st); f != 7 {
		t.Fatalf("a refused advance moved the fence to %d", f)
	}
	// The table holds one row, and nothing but the fence's own queries can add one.
	if _, err := st.Pool.Exec(ctx, `INSERT INTO cluster_fence (id, term) VALUES (2, 9)`); !errors.Is(store.Map(err), store.ErrInvalid) {
		t.Fatalf("a second fence row: %v, want a check violation", err)
	}
}

// queuedBuild inserts a queued build and the node it may be claimed for.
func queuedBuild(t *testing.T, st *store.Store, name string) (db.TemplateBuild, uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	nid := id.NewNodeID()
	if _, err := st.UpsertNode(ctx, db.UpsertNodeParams{ID: nid, Name: "n", Role: "server"}); err != nil {
		t.Fatal(err)
	}
	b, err := st.CreateBuild(ctx, db.CreateBuildParams{ID: id.NewBuildID(), Name: name, TeamID: id.PlatformTeamID,
		BaseTemplate: "base", Recipe: json.RawMessage(`["true"]`), TotalSteps: 1, Vcpus: 1, MemoryMb: 256, DiskSizeMb: 1024, StepTimeoutSec: 60})
	if err != nil {
		t.Fatal(err)
	}
	return b, nid.UUID()
}

func TestFencedRefusesADeposedTerm(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	b, node := queuedBuild(t, st, "fenced")
	claim := func(term uint64) (db.TemplateBuild, error) {
		var got db.TemplateBuild
		err := st.Fenced(ctx, term, func(q *db.Queries) (err error) {
			got, err = q.ClaimBuild(ctx, db.ClaimBuildParams{ID: b.ID, NodeID: &node, LeaderTerm: int64(term)})
			return store.Map(err)
		})
		return got, err
	}
	// No leader took office yet: no term holds the fence.
	if _, err := claim(1); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("a claim before any leader took office: %v, want ErrFenced", err)
	}
	if err := st.AdvanceFence(ctx, 4); err != nil {
		t.Fatal(err)
	}
	// Terms below (deposed) and above (not in office) the fence are refused and
	// write nothing; the SQL itself refuses a stale claim made outside Fenced.
	for _, term := range []uint64{3, 5} {
		if _, err := claim(term); !errors.Is(err, store.ErrFenced) {
			t.Fatalf("claim with term %d, fence at 4: %v, want ErrFenced", term, err)
		}
	}
	if _, err := st.ClaimBuild(ctx, db.ClaimBuildParams{ID: b.ID, NodeID: &node, LeaderTerm: 3}); !errors.Is(store.Map(err), store.ErrNotFound) {
		t.Fatalf("a stale claim outside Fenced: %v, want no row", err)
	}
	if err := st.Fenced(ctx, 0, func(*db.Queries) error { t.Fatal("fn ran with term 0"); return nil }); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Fenced with term 0: %v, want ErrInvalid", err)
	}
	row, err := st.GetBuild(ctx, b.ID)
	if err != nil || row.Status != "queued" || row.NodeID != nil || row.LeaderTerm != 0 {
		t.Fatalf("after refused claims the build is %s on %v, term %d (%v); want untouched", row.Status, row.NodeID, row.LeaderTerm, err)
	}
	// The term in office claims.
	got, err := claim(4)
	if err != nil || got.Status != "running" || got.LeaderTerm != 4 || got.NodeID == nil || *got.NodeID != node {
		t.Fatalf("claim by the term in office: %+v %v", got, err)
	}
	// The reconciler's write: the running builds of a lost node, in office only.
	lost := func(term uint64) ([]id.BuildID, error) {
		var ids []id.BuildID
		err := st.Fenced(ctx, term, func(q *db.Queries) (err error) {
			ids, err = q.FailNodeRunningBuilds(ctx, db.FailNodeRunningBuildsParams{NodeID: &node, Error: "lost"})
			return store.Map(err)
		})
		return ids, err
	}
	if err := st.AdvanceFence(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if _, err := lost(4); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("failing a lost node's builds with the deposed term: %v", err)
	}
	if row, _ := st.GetBuild(ctx, b.ID); row.Status != "running" {
		t.Fatalf("a refused reconcile moved the build to %s", row.Status)
	}
	if ids, err := lost(6); err != nil || len(ids) != 1 || ids[0] != b.ID {
		t.Fatalf("failing a lost node's builds in office: %v %v", ids, err)
	}
	if row, _ := st.GetBuild(ctx, b.ID); row.Status != "failed" || row.Error != "lost" || row.FinishedAt == nil {
		t.Fatalf("the lost node's build: %s %q", row.Status, row.Error)
	}
}

// A new leader's advance waits for a leader-only transaction that holds the
// fence, and once it is through the old term writes nothing: every fenced
// write is ordered against the change of leader.
func TestAdvanceFenceWaitsForAFencedTransaction(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.AdvanceFence(ctx, 2); err != nil {
		t.Fatal(err)
	}
	b, node := queuedBuild(t, st, "ordered")
	inTx, release := make(chan struct{}), make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- st.Fenced(ctx, 2, func(q *db.Queries) error {
			close(inTx)
			<-release
			_, err := q.ClaimBuild(ctx, db.ClaimBuildParams{ID: b.ID, NodeID: &node, LeaderTerm: 2})
			return store.Map(err)
		})
	}()
	<-inTx
	advanced := make(chan error, 1)
	go func() { advanced <- st.AdvanceFence(ctx, 3) }()
	// The advance is blocked on the fence row's lock, as Postgres reports it.
	for {
		var waiting int
		err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE cluster_fence%'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		select {
		case err := <-advanced:
			t.Fatalf("the advance finished (%v) while a fenced transaction held the fence", err)
		case <-ctx.Done():
			t.Fatal("the advance never waited on the fence row")
		case <-time.After(20 * time.Millisecond):
		}
	}
	close(release)
	if err := <-txDone; err != nil {
		t.Fatalf("the fenced transaction that held the fence: %v", err)
	}
	if err := <-advanced; err != nil {
		t.Fatalf("the advance after it: %v", err)
	}
	if row, _ := st.GetBuild(ctx, b.ID); row.Status != "running" || row.LeaderTerm != 2 {
		t.Fatalf("the claim committed before the advance: %s term %d", row.Status, row.LeaderTerm)
	}
	if err := st.Fenced(ctx, 2, func(*db.Queries) error { t.Fatal("fn ran for the deposed term"); return nil }); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("the old term after the advance: %v", err)
	}
}
