package sandboxes

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// quotaEnv is a service over a real database with no runtime: the quota
// check and the insert only need the store.
func quotaEnv(t *testing.T, team TeamLimits) (*Service, *store.Store) {
	t.Helper()
	st := storetest.New(t)
	l := DefaultLimits()
	l.Team = team
	return &Service{st: st, limits: l}, st
}

func newTeam(t *testing.T, st *store.Store, name string) id.TeamID {
	t.Helper()
	tm, err := st.CreateTeam(context.Background(), db.CreateTeamParams{ID: id.NewTeamID(), Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return tm.ID
}

func params(team id.TeamID, vcpus float32, mem, disk int32) db.CreateSandboxParams {
	return db.CreateSandboxParams{ID: id.NewSandboxID(), TeamID: team, TemplateName: "base", Vcpus: vcpus,
		MemoryMb: mem, DiskSizeMb: disk, TimeoutSec: 60, AllowInternetAccess: true, Metadata: []byte("{}")}
}

func i64(v int64) *int64     { return &v }
func f64(v float64) *float64 { return &v }

// quotaOf returns the quota err names, "" for another error or none.
func quotaOf(err error) string {
	var qe *QuotaError
	if errors.As(err, &qe) {
		return qe.Quota
	}
	return ""
}

// burst inserts n sandboxes like p at once and returns how many were
// recorded and the quotas named by the refusals.
func burst(t *testing.T, s *Service, n int, p func() db.CreateSandboxParams) (int, map[string]int) {
	t.Helper()
	var (
		mu      sync.Mutex
		ok      int
		refused = map[string]int{}
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := s.insert(context.Background(), p())
			mu.Lock()
			defer mu.Unlock()
			switch q := quotaOf(err); {
			case err == nil:
				ok++
			case q != "":
				refused[q]++
			default:
				t.Errorf("insert: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, refused
}

// TestQuotaConcurrentCreates: N creates at once against a quota of K record
// exactly K sandboxes, for each of the four limits; the refusals name it.
func TestQuotaConcurrentCreates(t *testing.T) {
	const n = 24
	for _, tc := range []struct {
		quota  string
		limits TeamLimits
		p      func(id.TeamID) db.CreateSandboxParams
		want   int
	}{
		{"sandboxes", TeamLimits{Sandboxes: 5}, func(tm id.TeamID) db.CreateSandboxParams { return params(tm, 1, 64, 1024) }, 5},
		{"vcpus", TeamLimits{VCPUs: 2}, func(tm id.TeamID) db.CreateSandboxParams { return params(tm, 0.5, 64, 1024) }, 4},
		// Ten sandboxes of 0.1 vCPU are exactly 1, despite float32.
		{"vcpus", TeamLimits{VCPUs: 1}, func(tm id.TeamID) db.CreateSandboxParams { return params(tm, 0.1, 64, 1024) }, 10},
		{"memory_mb", TeamLimits{MemoryMB: 1000}, func(tm id.TeamID) db.CreateSandboxParams { return params(tm, 1, 128, 1024) }, 7},
		{"disk_mb", TeamLimits{DiskMB: 3 * 1024}, func(tm id.TeamID) db.CreateSandboxParams { return params(tm, 1, 64, 1024) }, 3},
	} {
		t.Run(tc.quota, func(t *testing.T) {
			s, st := quotaEnv(t, tc.limits)
			tm := newTeam(t, st, "burst")
			ok, refused := burst(t, s, n, func() db.CreateSandboxParams { return tc.p(tm) })
			if ok != tc.want || refused[tc.quota] != n-tc.want {
				t.Fatalf("%d creates against %+v: %d recorded, refusals %v; want %d recorded, %d refused on %s",
					n, tc.limits, ok, refused, tc.want, n-tc.want, tc.quota)
			}
			u, err := st.TeamLiveUsage(context.Background(), tm)
			if err != nil || u.Sandboxes != int64(tc.want) {
				t.Fatalf("rows after the burst: %+v %v, want %d", u, err, tc.want)
			}
		})
	}
}

// TestQuotaCounting: paused sandboxes count, ended ones do not, build
// sandboxes neither count nor are checked, and another team's usage is its own.
func TestQuotaCounting(t *testing.T) {
	s, st := quotaEnv(t, TeamLimits{Sandboxes: 2})
	ctx := context.Background()
	a, b := newTeam(t, st, "a"), newTeam(t, st, "b")
	first, err := s.insert(ctx, params(a, 1, 64, 1024))
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.insert(ctx, params(a, 1, 64, 1024))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.setStatus(ctx, second.ID, sandbox.StatusRunning, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.setStatus(ctx, second.ID, sandbox.StatusPaused, ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.insert(ctx, params(a, 1, 64, 1024))
	if quotaOf(err) != "sandboxes" || err.Error() != "team quota: sandboxes 2 of 2 in use; this sandbox asks 1" {
		t.Fatalf("third create with one creating and one paused: %v", err)
	}
	// A build sandbox is exempt, and does not count afterwards.
	build := params(a, 1, 64, 1024)
	build.IsBuild = true
	if _, err := s.insert(ctx, build); err != nil {
		t.Fatalf("build sandbox over the quota: %v", err)
	}
	// Team b is not affected by a's usage.
	if _, err := s.insert(ctx, params(b, 1, 64, 1024)); err != nil {
		t.Fatalf("team b's create while a is full: %v", err)
	}
	q, err := s.TeamQuota(ctx, a)
	if err != nil || q.Usage != (TeamUsage{Sandboxes: 2, VCPUs: 2, MemoryMB: 128, DiskMB: 2048}) {
		t.Fatalf("a's usage: %+v %v", q.Usage, err)
	}
	// Killing one frees its place.
	if _, err := s.setStatus(ctx, first.ID, sandbox.StatusKilled, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.insert(ctx, params(a, 1, 64, 1024)); err != nil {
		t.Fatalf("create after a kill: %v", err)
	}
}

// TestQuotaMessages: each refusal names its quota with what is in use, the
// limit and what the sandbox asks.
func TestQuotaMessages(t *testing.T) {
	s, st := quotaEnv(t, TeamLimits{VCPUs: 4, MemoryMB: 4096, DiskMB: 8192})
	ctx := context.Background()
	tm := newTeam(t, st, "msg")
	if _, err := s.insert(ctx, params(tm, 4, 3072, 6144)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    db.CreateSandboxParams
		want string
	}{
		{params(tm, 2, 64, 1024), "team quota: vcpus 4 of 4 in use; this sandbox asks 2"},
	} {
		if _, err := s.insert(ctx, tc.p); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	big := s.limits.Team
	big.VCPUs = 0 // unlimited
	s.limits.Team = big
	for _, tc := range []struct {
		p    db.CreateSandboxParams
		want string
	}{
		{params(tm, 2, 2048, 1024), "team quota: memory_mb 3072 of 4096 in use; this sandbox asks 2048"},
		{params(tm, 2, 64, 4096), "team quota: disk_mb 6144 of 8192 in use; this sandbox asks 4096"},
	} {
		if _, err := s.insert(ctx, tc.p); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
	// The early check (no lock) answers the same.
	if err := s.checkQuota(ctx, st.Queries, params(tm, 2, 2048, 1024), false); quotaOf(err) != "memory_mb" {
		t.Errorf("early check: %v", err)
	}
}

// TestTeamQuotaSettings: a team's own limits override the operator defaults
// field by field, null returns a field to the default, bad values are refused
// naming the field, unknown and platform teams are refused.
func TestTeamQuotaSettings(t *testing.T) {
	def := TeamLimits{Sandboxes: 10, VCPUs: 8, MemoryMB: 8192, DiskMB: 100 << 10}
	s, st := quotaEnv(t, def)
	ctx := context.Background()
	tm := newTeam(t, st, "settings")
	q, err := s.TeamQuota(ctx, tm)
	if err != nil || q.Limits != def || q.Own != (TeamOverrides{}) || q.Team != tm {
		t.Fatalf("a team without its own quota: %+v %v", q, err)
	}
	q, err = s.SetTeamQuota(ctx, tm, TeamOverrides{Sandboxes: i64(1), VCPUs: f64(0)})
	if err != nil || q.Limits != (TeamLimits{Sandboxes: 1, VCPUs: 0, MemoryMB: 8192, DiskMB: 100 << 10}) || *q.Own.Sandboxes != 1 || q.Own.MemoryMB != nil {
		t.Fatalf("after setting sandboxes=1 vcpus=0: %+v %v", q, err)
	}
	if _, err := s.insert(ctx, params(tm, 16, 64, 1024)); err != nil {
		t.Fatalf("16 vCPUs under an unlimited vcpus quota: %v", err)
	}
	if _, err := s.insert(ctx, params(tm, 1, 64, 1024)); quotaOf(err) != "sandboxes" {
		t.Fatalf("second sandbox under max_sandboxes=1: %v", err)
	}
	// Replacing with nulls returns to the defaults.
	if q, err = s.SetTeamQuota(ctx, tm, TeamOverrides{}); err != nil || q.Limits != def || q.Own != (TeamOverrides{}) {
		t.Fatalf("after clearing: %+v %v", q, err)
	}
	for _, tc := range []struct {
		o     TeamOverrides
		field string
	}{
		{TeamOverrides{Sandboxes: i64(-1)}, "max_sandboxes"},
		{TeamOverrides{VCPUs: f64(-0.5)}, "max_vcpus"},
		{TeamOverrides{VCPUs: f64(2e6)}, "max_vcpus"},
		{TeamOverrides{MemoryMB: i64(-1)}, "max_memory_mb"},
		{TeamOverrides{DiskMB: i64(1 << 31)}, "max_disk_mb"},
	} {
		var fe *sandbox.FieldError
		if _, err := s.SetTeamQuota(ctx, tm, tc.o); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want a field error on %s", tc.o, err, tc.field)
		}
	}
	if _, err := s.SetTeamQuota(ctx, id.NewTeamID(), TeamOverrides{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown team: %v", err)
	}
	if _, err := s.TeamQuota(ctx, id.NewTeamID()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown team: %v", err)
	}
	var fe *sandbox.FieldError
	if _, err := s.SetTeamQuota(ctx, id.PlatformTeamID, TeamOverrides{}); !errors.As(err, &fe) || fe.Field != "id" {
		t.Errorf("platform team: %v", err)
	}
	if err := (TeamLimits{Sandboxes: -1, VCPUs: -1}).Validate(); err == nil ||
		err.Error() != "--team-max-sandboxes: must be between 0 (unlimited) and 2147483647, got -1\n--team-max-vcpus: must be between 0 (unlimited) and 1000000, got -1" {
		t.Errorf("bad operator defaults: %v", err)
	}
	if err := DefaultTeamLimits().Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}

// BenchmarkInsert compares the quota-checked insert (lock, sum, insert in one
// transaction) with the plain insert build sandboxes take, for a team with
// 200 live sandboxes.
func BenchmarkInsert(b *testing.B) {
	st := storetest.New(b)
	s := &Service{st: st, limits: DefaultLimits()}
	s.limits.Team = TeamLimits{}
	tm, err := st.CreateTeam(context.Background(), db.CreateTeamParams{ID: id.NewTeamID(), Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for range 200 {
		if _, err := s.insert(context.Background(), params(tm.ID, 1, 64, 1024)); err != nil {
			b.Fatal(err)
		}
	}
	for _, build := range []bool{false, true} {
		name := map[bool]string{false: "quota-checked", true: "build-unchecked"}[build]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p := params(tm.ID, 1, 64, 1024)
				p.IsBuild = build
				if _, err := s.insert(context.Background(), p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
