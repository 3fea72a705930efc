package sandboxes

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// TeamLimits bound what one team's live (creating, running, paused) sandboxes
// may hold together, build sandboxes not counted. 0 is unlimited. The
// operator's defaults (Limits.Team) apply to every team that has no limit of
// its own; a paused sandbox still counts, so resuming one needs no check.
type TeamLimits struct {
	Sandboxes int64
	VCPUs     float64
	MemoryMB  int64
	DiskMB    int64
}

// DefaultTeamLimits returns the operator defaults: a backstop against one
// team taking a whole cluster by mistake, well above what the platform's own
// tests and benchmarks use (the load test's 50 small sandboxes, the density
// benchmark's 300), and above 500 sandboxes of the default size (1 vCPU,
// 512 MB, 20 GiB disk). Operators set tighter limits per team.
func DefaultTeamLimits() TeamLimits {
	return TeamLimits{Sandboxes: 500, VCPUs: 500, MemoryMB: 512 << 10, DiskMB: 10 << 20}
}

// Validate checks the operator defaults, naming the node flag of a bad one.
func (l TeamLimits) Validate() error {
	var errs []error
	for _, f := range []struct {
		flag string
		v    int64
	}{{"--team-max-sandboxes", l.Sandboxes}, {"--team-max-memory-mb", l.MemoryMB}, {"--team-max-disk-mb", l.DiskMB}} {
		if f.v < 0 || f.v > maxQuotaCount {
			errs = append(errs, fmt.Errorf("%s: must be between 0 (unlimited) and %d, got %d", f.flag, maxQuotaCount, f.v))
		}
	}
	if math.IsNaN(l.VCPUs) || l.VCPUs < 0 || l.VCPUs > maxQuotaVCPUs {
		errs = append(errs, fmt.Errorf("--team-max-vcpus: must be between 0 (unlimited) and %d, got %g", maxQuotaVCPUs, l.VCPUs))
	}
	return errors.Join(errs...)
}

// Quota limits a team may be given. The integer limits are Postgres INTEGERs.
const (
	maxQuotaCount = math.MaxInt32
	maxQuotaVCPUs = 1_000_000
)

// TeamOverrides are a team's own limits, set by an admin. A nil field takes
// the operator's default; 0 is unlimited.
type TeamOverrides struct {
	Sandboxes *int64
	VCPUs     *float64
	MemoryMB  *int64
	DiskMB    *int64
}

// Validate checks each limit, naming the API field of the first bad one.
func (o TeamOverrides) Validate() error {
	for _, f := range []struct {
		name string
		v    *int64
	}{{"max_sandboxes", o.Sandboxes}, {"max_memory_mb", o.MemoryMB}, {"max_disk_mb", o.DiskMB}} {
		if f.v != nil && (*f.v < 0 || *f.v > maxQuotaCount) {
			return sandbox.Fieldf(f.name, "must be between 0 (unlimited) and %d, got %d", maxQuotaCount, *f.v)
		}
	}
	if v := o.VCPUs; v != nil && (math.IsNaN(*v) || *v < 0 || *v > maxQuotaVCPUs) {
		return sandbox.Fieldf("max_vcpus", "must be between 0 (unlimited) and %d, got %g", maxQuotaVCPUs, *v)
	}
	return nil
}

// TeamUsage is what a team's live sandboxes hold now, builds not counted.
type TeamUsage struct {
	Sandboxes int64
	VCPUs     float64
	MemoryMB  int64
	DiskMB    int64
}

// TeamQuota is a team's quota as it applies: its own limits, the limits in
// force (its own over the operator's defaults) and its usage.
type TeamQuota struct {
	Team   id.TeamID
	Own    TeamOverrides
	Limits TeamLimits
	Usage  TeamUsage
}

// QuotaError is a create its team's quota refuses. Clients see Message.
type QuotaError struct {
	Quota   string // sandboxes, vcpus, memory_mb or disk_mb
	Message string
}

func (e *QuotaError) Error() string { return e.Message }

// TeamQuota returns team's quota and usage; a store ErrNotFound for an
// unknown team.
func (s *Service) TeamQuota(ctx context.Context, team id.TeamID) (TeamQuota, error) {
	row, err := s.st.GetTeamQuota(ctx, team)
	if err != nil {
		return TeamQuota{}, fmt.Errorf("team %s: %w", team, store.Map(err))
	}
	u, err := s.st.TeamLiveUsage(ctx, team)
	if err != nil {
		return TeamQuota{}, store.Map(err)
	}
	own := overrides(db.LockTeamQuotaRow(row))
	return TeamQuota{Team: team, Own: own, Limits: s.effective(own), Usage: usage(u)}, nil
}

// SetTeamQuota replaces team's own limits with o (nil fields: the operator's
// default) and returns the quota as it now applies. Sandboxes already live
// keep running when a limit drops below their usage; new creates are refused
// until the team is under it again.
func (s *Service) SetTeamQuota(ctx context.Context, team id.TeamID, o TeamOverrides) (TeamQuota, error) {
	if err := o.Validate(); err != nil {
		return TeamQuota{}, err
	}
	if team == id.PlatformTeamID {
		return TeamQuota{}, sandbox.Fieldf("id", "the platform team has no quota")
	}
	if _, err := s.st.GetTeam(ctx, team); err != nil {
		return TeamQuota{}, fmt.Errorf("team %s: %w", team, store.Map(err))
	}
	err := s.st.SetTeamQuota(ctx, db.SetTeamQuotaParams{TeamID: team, MaxSandboxes: int32p(o.Sandboxes),
		MaxVcpus: o.VCPUs, MaxMemoryMb: int32p(o.MemoryMB), MaxDiskMb: int32p(o.DiskMB)})
	if err != nil {
		// The team was deleted in between: a foreign-key violation.
		if errors.Is(store.Map(err), store.ErrInvalid) {
			return TeamQuota{}, fmt.Errorf("team %s: %w", team, store.ErrNotFound)
		}
		return TeamQuota{}, store.Map(err)
	}
	return s.TeamQuota(ctx, team)
}

// checkQuota refuses p when its team's live sandboxes plus p would pass a
// limit. Without lock it is an early answer that saves a placement; the
// check that counts runs with lock inside the insert's transaction.
func (s *Service) checkQuota(ctx context.Context, q *db.Queries, p db.CreateSandboxParams, lock bool) error {
	if p.IsBuild {
		return nil
	}
	var (
		row db.LockTeamQuotaRow
		err error
	)
	if lock {
		row, err = q.LockTeamQuota(ctx, p.TeamID)
	} else {
		var r db.GetTeamQuotaRow
		r, err = q.GetTeamQuota(ctx, p.TeamID)
		row = db.LockTeamQuotaRow(r)
	}
	if err != nil {
		return fmt.Errorf("team %s: %w", p.TeamID, store.Map(err))
	}
	u, err := q.TeamLiveUsage(ctx, p.TeamID)
	if err != nil {
		return store.Map(err)
	}
	return s.effective(overrides(row)).admit(u, p)
}

// insertChecked records p in one transaction with its quota check: the team
// row stays locked from the sum to the insert, so concurrent creates of one
// team, on any node, are counted one after the other.
func (s *Service) insertChecked(ctx context.Context, p db.CreateSandboxParams) (db.Sandbox, error) {
	if p.IsBuild {
		row, err := s.st.CreateSandbox(ctx, p)
		return row, store.Map(err)
	}
	var row db.Sandbox
	err := s.st.Tx(ctx, func(q *db.Queries) error {
		if err := s.checkQuota(ctx, q, p, true); err != nil {
			return err
		}
		var err error
		row, err = q.CreateSandbox(ctx, p)
		return store.Map(err)
	})
	return row, err
}

// admit refuses p when u plus p passes a limit of l, naming the limit.
func (l TeamLimits) admit(u db.TeamLiveUsageRow, p db.CreateSandboxParams) error {
	refuse := func(quota string, used, limit, asks string) error {
		return &QuotaError{Quota: quota, Message: fmt.Sprintf("team quota: %s %s of %s in use; this sandbox asks %s", quota, used, limit, asks)}
	}
	askMilli := milli(float64(p.Vcpus))
	switch {
	case l.Sandboxes > 0 && u.Sandboxes+1 > l.Sandboxes:
		return refuse("sandboxes", fmt.Sprint(u.Sandboxes), fmt.Sprint(l.Sandboxes), "1")
	case l.VCPUs > 0 && u.Millivcpus+askMilli > milli(l.VCPUs):
		return refuse("vcpus", fmt.Sprint(float64(u.Millivcpus)/1000), fmt.Sprint(l.VCPUs), fmt.Sprint(float64(askMilli)/1000))
	case l.MemoryMB > 0 && u.MemoryMb+int64(p.MemoryMb) > l.MemoryMB:
		return refuse("memory_mb", fmt.Sprint(u.MemoryMb), fmt.Sprint(l.MemoryMB), fmt.Sprint(p.MemoryMb))
	case l.DiskMB > 0 && u.DiskMb+int64(p.DiskSizeMb) > l.DiskMB:
		return refuse("disk_mb", fmt.Sprint(u.DiskMb), fmt.Sprint(l.DiskMB), fmt.Sprint(p.DiskSizeMb))
	}
	return nil
}

// effective lays o over the operator's defaults.
func (s *Service) effective(o TeamOverrides) TeamLimits {
	l := s.limits.Team
	if o.Sandboxes != nil {
		l.Sandboxes = *o.Sandboxes
	}
	if o.VCPUs != nil {
		l.VCPUs = *o.VCPUs
	}
	if o.MemoryMB != nil {
		l.MemoryMB = *o.MemoryMB
	}
	if o.DiskMB != nil {
		l.DiskMB = *o.DiskMB
	}
	return l
}

func overrides(r db.LockTeamQuotaRow) TeamOverrides {
	return TeamOverrides{Sandboxes: int64p(r.MaxSandboxes), VCPUs: r.MaxVcpus, MemoryMB: int64p(r.MaxMemoryMb), DiskMB: int64p(r.MaxDiskMb)}
}

func usage(u db.TeamLiveUsageRow) TeamUsage {
	return TeamUsage{Sandboxes: u.Sandboxes, VCPUs: float64(u.Millivcpus) / 1000, MemoryMB: u.MemoryMb, DiskMB: u.DiskMb}
}

// milli is v in thousandths, as the usage query sums vCPUs.
func milli(v float64) int64 { return int64(math.Round(v * 1000)) }

func int64p(v *int32) *int64 {
	if v == nil {
		return nil
	}
	x := int64(*v)
	return &x
}

func int32p(v *int64) *int32 {
	if v == nil {
		return nil
	}
	x := int32(*v)
	return &x
}
