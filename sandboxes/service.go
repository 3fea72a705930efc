// Package sandboxes is a node's sandbox service: the sandbox lifecycle persisted to
// Postgres (through store) around the runtime in package sandbox. It validates
// create requests against the node's limits and the team's quota, records
// every state change with a conditional update (so two racing transitions
// cannot both win), reaps sandboxes whose timeout passed, and at start marks
// the rows of sandboxes a crash took away as lost. The REST API calls it; it
// knows nothing of HTTP.
package sandboxes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandbox/timing"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// Limits bound what a create may ask for; defaults come from DefaultLimits.
type Limits struct {
	DefaultVCPUs      float64
	MaxVCPUs          float64
	DefaultMemoryMB   int64
	MaxMemoryMB       int64
	DefaultDiskMB     int64
	MinDiskMB         int64
	MaxDiskMB         int64
	DefaultTimeoutSec int64
	MaxTimeoutSec     int64
	MaxSandboxes      int // live sandboxes on this node, builds included
	MaxMetadata       int // keys
	MaxEnv            int // variables
	// CPUOvercommit and MemoryOvercommit scale the node's CPUs and memory
	// into what sandboxes may be promised: vcpus and memory_mb are limits,
	// not reservations, and idle sandboxes use a few MB.
	CPUOvercommit    float64
	MemoryOvercommit float64
	// MinFreeDiskMB is the free space the disk pool keeps: below it the node
	// takes no new sandboxes. Disks are sparse, so what sandboxes are promised
	// is not reserved; this keeps live ones room to write.
	MinFreeDiskMB int64
	Team          TeamLimits // each team's default quota (quota.go)
}

// DefaultLimits returns the defaults.
func DefaultLimits() Limits {
	return Limits{
		DefaultVCPUs: 1, MaxVCPUs: 16,
		DefaultMemoryMB: 512, MaxMemoryMB: 65536,
		DefaultDiskMB: 20480, MinDiskMB: 1024, MaxDiskMB: 204800,
		DefaultTimeoutSec: 300, MaxTimeoutSec: 7 * 24 * 3600,
		MaxSandboxes: 1000, MaxMetadata: 64, MaxEnv: 256,
		CPUOvercommit: 256, MemoryOvercommit: 8,
		MinFreeDiskMB: 2048, Team: DefaultTeamLimits(),
	}
}

// Service is the node's sandbox service.
type Service struct {
	st     *store.Store
	mgr    *sandbox.Manager
	node   id.NodeID
	limits Limits
	log    *slog.Logger

	cluster  Cluster
	diskDirs []string // filesystems holding disks; none skips the free-space check
	draining atomic.Bool
	mu       sync.Mutex
	creating int                       // creates in flight, counted against MaxSandboxes
	starting map[id.SandboxID]struct{} // rows this node is starting now
	failed   map[id.SandboxID]string   // failed sandboxes whose row could not be updated yet, with the reason
}

// New returns a Service for node over st and mgr.
// It takes mgr's OnExit hook: a sandbox whose agent is lost is recorded
// failed with the reason.
func New(st *store.Store, mgr *sandbox.Manager, node id.NodeID, limits Limits, log *slog.Logger) *Service {
	s := &Service{st: st, mgr: mgr, node: node, limits: limits, log: log, starting: map[id.SandboxID]struct{}{},
		failed: map[id.SandboxID]string{}}
	mgr.SetOnExit(s.exited)
	return s
}

// Limits returns the service's limits.
func (s *Service) Limits() Limits { return s.limits }

// CreateRequest asks for a sandbox. Nil fields take defaults.
type CreateRequest struct {
	Team          id.TeamID
	Template      string // name or tpl- ID
	VCPUs         *float64
	MemoryMB      *int64
	DiskSizeMB    *int64
	TimeoutSec    *int64
	Env           map[string]string
	Metadata      map[string]string
	AllowInternet *bool
	IsBuild       bool
}

// Cluster is what the service needs of the cluster: placement by the
// leader's scheduler, starting a sandbox on another node, and fetching a
// template image this node lacks. Without one the node places everything on
// itself.
type Cluster interface {
	Place(ctx context.Context, p Placement) (id.NodeID, error)
	StartOn(ctx context.Context, node id.NodeID, row db.Sandbox, env map[string]string) error
	EnsureImage(ctx context.Context, tpl id.TemplateID) error
	DeleteImage(ctx context.Context, node id.NodeID, tpl id.TemplateID) error
	// Started tells the scheduler a start it placed on node has ended
	// (either way), freeing that node's start slot at once.
	Started(node id.NodeID)
	// Owner returns node, the node running a sandbox, reached over the
	// cluster; an UnavailableError when it is not an alive member.
	Owner(node id.NodeID) (Owner, error)
}

// Owner is the node running a sandbox, seen from another node: the calls that
// must run where the sandbox is. The caller has authenticated team; the owner
// checks the sandbox is its own and the team's, and records any new status in
// Postgres before answering. Errors are the sandbox package's (ErrNotFound,
// ErrConflict, *FieldError, *UnavailableError) or internal ones.
type Owner interface {
	Kill(ctx context.Context, team id.TeamID, sb id.SandboxID) error
	Pause(ctx context.Context, team id.TeamID, sb id.SandboxID) error
	Resume(ctx context.Context, team id.TeamID, sb id.SandboxID) error
	Snapshot(ctx context.Context, team id.TeamID, sb id.SandboxID, name string) (id.TemplateID, error)
	// Agent returns a client of the sandbox's agent, relayed by the owner.
	Agent(ctx context.Context, team id.TeamID, sb id.SandboxID) (*agent.Client, error)
	// DialPort connects to port inside the sandbox, through the owner.
	DialPort(ctx context.Context, team id.TeamID, sb id.SandboxID, port int) (net.Conn, error)
}

type fromPeerKey struct{}

// FromPeer marks ctx as a call another node sent to this one as the
// sandbox's owner: the service serves it here and never sends it on (a row
// naming another node answers ErrNotFound).
func FromPeer(ctx context.Context) context.Context {
	return context.WithValue(ctx, fromPeerKey{}, true)
}

// remote returns the owner of row when another node runs it, nil when this
// node serves the call.
func (s *Service) remote(ctx context.Context, row db.Sandbox) (Owner, error) {
	if s.cluster == nil || row.NodeID == nil || id.NodeID(*row.NodeID) == s.node {
		return nil, nil
	}
	if ctx.Value(fromPeerKey{}) != nil {
		return nil, fmt.Errorf("sandbox %s: %w: it runs on node %s, not on %s", row.ID, sandbox.ErrNotFound, id.NodeID(*row.NodeID), s.node)
	}
	return s.cluster.Owner(id.NodeID(*row.NodeID))
}

// Placement is what the scheduler needs to know about a new sandbox.
type Placement struct {
	Team       id.TeamID
	Template   id.TemplateID
	VCPUs      float64
	MemoryMB   int64
	DiskSizeMB int64
	IsBuild    bool
	Exclude    []id.NodeID // nodes that just failed to start it
}

// SetCluster makes the service place sandboxes through c.
func (s *Service) SetCluster(c Cluster) { s.cluster = c }

// Create validates req, records the sandbox as creating, starts it — on the
// node the scheduler picks — and records it as running, or as failed with
// everything it made removed.
func (s *Service) Create(ctx context.Context, req CreateRequest) (db.Sandbox, error) {
	rec := timing.From(ctx)
	end := rec.Start("template")
	tpl, err := s.resolveTemplate(ctx, req.Team, req.Template)
	end()
	if err != nil {
		return db.Sandbox{}, err
	}
	p, err := s.params(req, tpl)
	if err != nil {
		return db.Sandbox{}, err
	}
	end = rec.Start("quota")
	err = s.checkQuota(ctx, s.st.Queries, p, false)
	end()
	if err != nil {
		return db.Sandbox{}, err
	}
	target := s.node
	var exclude []id.NodeID
	for attempt := 1; s.cluster != nil; attempt++ {
		end = rec.Start("place")
		target, err = s.cluster.Place(ctx, Placement{Team: req.Team, Template: tpl.ID, VCPUs: float64(p.Vcpus),
			MemoryMB: int64(p.MemoryMb), DiskSizeMB: int64(p.DiskSizeMb), IsBuild: req.IsBuild, Exclude: exclude})
		end()
		if err != nil {
			return db.Sandbox{}, err
		}
		if target == s.node {
			break
		}
		node := target.UUID()
		p.NodeID = &node
		p.ID = id.NewSandboxID()
		row, err := s.insert(ctx, p)
		if err != nil {
			s.cluster.Started(target)
			return db.Sandbox{}, store.Map(err)
		}
		end = rec.Start("remote_start")
		err = s.cluster.StartOn(ctx, target, row, req.Env)
		end()
		s.cluster.Started(target)
		if err == nil {
			row, err = s.st.GetSandbox(ctx, row.ID)
			return row, store.Map(err)
		}
		failedRow, ferr := s.fail(row, err)
		// A node that did not answer (it died and gossip has not said so
		// yet): place the sandbox again elsewhere, with a new row.
		if !errors.Is(err, sandbox.ErrUnavailable) || attempt == 3 {
			return failedRow, ferr
		}
		exclude = append(exclude, target)
	}
	end = rec.Start("reserve")
	err = s.reserve(ctx)
	end()
	if err != nil {
		return db.Sandbox{}, err
	}
	defer s.release()
	if s.cluster != nil && !req.IsBuild {
		defer s.cluster.Started(s.node)
	}
	p.NodeID = nodePtr(s.node)
	p.ID = id.NewSandboxID() // a failed attempt elsewhere used the first one
	row, err := s.insert(ctx, p)
	if err != nil {
		return db.Sandbox{}, store.Map(err)
	}
	return s.start(ctx, row, tpl, req.Env)
}

// StartLocal starts a sandbox whose row another node recorded for this node
// (the node RPC's CreateSandbox).
func (s *Service) StartLocal(ctx context.Context, sb id.SandboxID, env map[string]string) (db.Sandbox, error) {
	row, err := s.st.GetSandbox(ctx, sb)
	if err != nil {
		return row, store.Map(err)
	}
	if row.NodeID == nil || id.NodeID(*row.NodeID) != s.node || row.Status != string(sandbox.StatusCreating) {
		return row, fmt.Errorf("sandbox %s: %w: not a creating sandbox of this node", sb, sandbox.ErrConflict)
	}
	if row.TemplateID == nil {
		return s.fail(row, fmt.Errorf("sandbox %s has no template", sb))
	}
	tpl, err := s.st.GetTemplate(ctx, id.TemplateID(*row.TemplateID))
	if err != nil {
		return s.fail(row, store.Map(err))
	}
	if err := s.reserve(ctx); err != nil {
		return s.fail(row, err)
	}
	defer s.release()
	return s.start(ctx, row, tpl, env)
}

// start runs a recorded sandbox on this node and records it running.
func (s *Service) start(ctx context.Context, row db.Sandbox, tpl db.Template, env map[string]string) (db.Sandbox, error) {
	s.mu.Lock()
	s.starting[row.ID] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.starting, row.ID)
		s.mu.Unlock()
	}()
	rec := timing.From(ctx)
	if s.cluster != nil {
		end := rec.Start("image")
		err := s.cluster.EnsureImage(ctx, tpl.ID)
		end()
		if err != nil {
			return s.fail(row, fmt.Errorf("template image: %w", err))
		}
	}
	hc, err := sandbox.ParseHealthcheck(tpl.Healthcheck)
	if err != nil {
		return s.fail(row, err)
	}
	end := rec.Start("manager")
	info, err := s.mgr.Create(ctx, sandbox.Spec{
		ID: row.ID.String(), Team: row.TeamID.String(), Image: tpl.ID.String(), VCPUs: float64(row.Vcpus), MemoryMB: int64(row.MemoryMb),
		DiskSizeMB: int64(row.DiskSizeMb), Env: env, AllowInternet: row.AllowInternetAccess,
		StartCmd: tpl.StartCmd, Healthcheck: hc,
	})
	end()
	if err != nil {
		return s.fail(row, err)
	}
	// Detached: a client that gives up now must not leave a running sandbox
	// recorded as creating.
	uctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end = rec.Start("db_running")
	running, err := s.st.SetSandboxRunning(uctx, db.SetSandboxRunningParams{ID: row.ID, Ip: info.IP})
	end()
	if err != nil {
		// The row moved on (killed concurrently) or the database failed:
		// either way this sandbox must not keep running unrecorded.
		_ = s.mgr.Destroy(row.ID.String())
		if errors.Is(store.Map(err), store.ErrNotFound) {
			return db.Sandbox{}, fmt.Errorf("sandbox %s: %w: killed while it was being created", row.ID, sandbox.ErrConflict)
		}
		s.unrecorded(row.ID, failedToStart)
		return db.Sandbox{}, store.Map(err)
	}
	return running, nil
}

// fail records a failed create. The user sees a short reason; the log has all.
func (s *Service) fail(row db.Sandbox, cause error) (db.Sandbox, error) {
	s.log.Error("sandbox create failed", "sandbox", row.ID, "err", cause)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.setStatus(ctx, row.ID, sandbox.StatusFailed, failedToStart); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("recording a failed create; will retry", "sandbox", row.ID, "err", err)
		s.unrecorded(row.ID, failedToStart)
	}
	return db.Sandbox{}, fmt.Errorf("sandbox %s failed to start: %w", row.ID, cause)
}

// insert records a new sandbox row, within its team's quota. It is not cut
// short by the caller's cancellation: a cancel landing mid-INSERT could commit
// the row yet report a failure, leaving a row nobody moves on from creating.
func (s *Service) insert(ctx context.Context, p db.CreateSandboxParams) (db.Sandbox, error) {
	defer timing.Start(ctx, "db_insert")()
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return s.insertChecked(ictx, p)
}

// reserve counts a create against the node's capacity.
func (s *Service) reserve(ctx context.Context) error {
	if err := s.checkDraining(); err != nil {
		return err
	}
	if err := s.checkDisk(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.mgr.IDs())+s.creating >= s.limits.MaxSandboxes {
		return &sandbox.CapacityError{Message: fmt.Sprintf("this node is at its limit of %d sandboxes; retry later", s.limits.MaxSandboxes)}
	}
	s.creating++
	return nil
}

func (s *Service) release() {
	s.mu.Lock()
	s.creating--
	s.mu.Unlock()
}

func (s *Service) resolveTemplate(ctx context.Context, team id.TeamID, ref string) (db.Template, error) {
	if ref == "" {
		return db.Template{}, sandbox.Fieldf("template", "is required")
	}
	var (
		tpl db.Template
		err error
	)
	if tid, perr := id.ParseTemplateID(ref); perr == nil {
		tpl, err = s.st.GetTemplateByTeam(ctx, db.GetTemplateByTeamParams{ID: tid, TeamID: team})
	} else {
		tpl, err = s.st.GetTemplateByTeamAndName(ctx, db.GetTemplateByTeamAndNameParams{Name: ref, TeamID: team})
	}
	if errors.Is(store.Map(err), store.ErrNotFound) {
		return tpl, sandbox.Fieldf("template", "no template %q", trunc(ref))
	}
	return tpl, store.Map(err)
}

func (s *Service) setStatus(ctx context.Context, sb id.SandboxID, status sandbox.Status, msg string) (db.Sandbox, error) {
	row, err := s.st.SetSandboxStatus(ctx, db.SetSandboxStatusParams{ID: sb, Status: string(status), Error: msg, FromStatuses: sandbox.From(status)})
	return row, store.Map(err)
}

// Get returns team's sandbox (ErrNotFound for another team's).
func (s *Service) Get(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error) {
	row, err := s.st.GetSandboxByTeam(ctx, db.GetSandboxByTeamParams{ID: sb, TeamID: team})
	if errors.Is(store.Map(err), store.ErrNotFound) {
		return row, fmt.Errorf("sandbox %s: %w", sb, sandbox.ErrNotFound)
	}
	return row, store.Map(err)
}

// Kill destroys team's sandbox and records it killed.
func (s *Service) Kill(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error) {
	row, err := s.Get(ctx, team, sb)
	if err != nil {
		return row, err
	}
	if !sandbox.Status(row.Status).Live() {
		return row, fmt.Errorf("sandbox %s: %w: it is already %s", sb, sandbox.ErrConflict, row.Status)
	}
	if o, err := s.remote(ctx, row); err != nil {
		return row, err
	} else if o != nil {
		return s.reread(ctx, row, o.Kill(ctx, team, sb))
	}
	return s.end(sb, sandbox.StatusKilled, "")
}

// reread answers the row as the owner recorded it after a call on it that
// ended with err.
func (s *Service) reread(ctx context.Context, row db.Sandbox, err error) (db.Sandbox, error) {
	if err != nil {
		return row, err
	}
	return s.Get(ctx, row.TeamID, row.ID)
}

// end destroys a sandbox and records its final status; detached from callers.
func (s *Service) end(sb id.SandboxID, status sandbox.Status, msg string) (db.Sandbox, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	row, err := s.setStatus(ctx, sb, status, msg)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return row, fmt.Errorf("sandbox %s: %w: it already ended", sb, sandbox.ErrConflict)
		}
		return row, err
	}
	if err := s.mgr.Destroy(sb.String()); err != nil && !errors.Is(err, sandbox.ErrNotFound) {
		s.log.Error("destroying sandbox", "sandbox", sb, "err", err)
	}
	return row, nil
}

// Pause freezes team's sandbox.
func (s *Service) Pause(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error) {
	return s.transition(ctx, team, sb, sandbox.StatusPaused, s.mgr.Pause, Owner.Pause)
}

// Resume thaws team's sandbox.
func (s *Service) Resume(ctx context.Context, team id.TeamID, sb id.SandboxID) (db.Sandbox, error) {
	return s.transition(ctx, team, sb, sandbox.StatusRunning, s.mgr.Resume, Owner.Resume)
}

func (s *Service) transition(ctx context.Context, team id.TeamID, sb id.SandboxID, to sandbox.Status, op func(context.Context, string) error,
	remoteOp func(Owner, context.Context, id.TeamID, id.SandboxID) error) (db.Sandbox, error) {
	row, err := s.Get(ctx, team, sb)
	if err != nil {
		return row, err
	}
	if err := sandbox.CheckTransition(sandbox.Status(row.Status), to); err != nil || row.Status == string(sandbox.StatusCreating) {
		return row, fmt.Errorf("sandbox %s: %w: a %s sandbox cannot become %s", sb, sandbox.ErrConflict, row.Status, to)
	}
	if o, err := s.remote(ctx, row); err != nil {
		return row, err
	} else if o != nil {
		return s.reread(ctx, row, remoteOp(o, ctx, team, sb))
	}
	if err := op(ctx, sb.String()); err != nil {
		return row, err
	}
	return s.setStatus(ctx, sb, to, "")
}

// SetTimeout sets a live sandbox's timeout, counted from now.
func (s *Service) SetTimeout(ctx context.Context, team id.TeamID, sb id.SandboxID, sec int64) (db.Sandbox, error) {
	if sec < 1 || sec > s.limits.MaxTimeoutSec {
		return db.Sandbox{}, sandbox.Fieldf("timeout_sec", "must be between 1 and %d, got %d", s.limits.MaxTimeoutSec, sec)
	}
	if _, err := s.Get(ctx, team, sb); err != nil {
		return db.Sandbox{}, err
	}
	row, err := s.st.SetSandboxTimeout(ctx, db.SetSandboxTimeoutParams{ID: sb, TimeoutSec: int32(sec)})
	if errors.Is(store.Map(err), store.ErrNotFound) {
		return row, fmt.Errorf("sandbox %s: %w: only a running or paused sandbox has a timeout", sb, sandbox.ErrConflict)
	}
	return row, store.Map(err)
}

// Agent returns the agent of team's running sandbox.
func (s *Service) Agent(ctx context.Context, team id.TeamID, sb id.SandboxID) (*agent.Client, error) {
	row, err := s.Get(ctx, team, sb)
	if err != nil {
		return nil, err
	}
	if row.Status != string(sandbox.StatusRunning) {
		return nil, fmt.Errorf("sandbox %s: %w: it is %s, not running", sb, sandbox.ErrConflict, row.Status)
	}
	if o, err := s.remote(ctx, row); err != nil {
		return nil, err
	} else if o != nil {
		return o.Agent(ctx, team, sb)
	}
	return s.mgr.Agent(sb.String())
}

// DialPort connects to a TCP port inside team's running sandbox, for the
// ports proxy: directly when it runs here, through its node otherwise.
func (s *Service) DialPort(ctx context.Context, team id.TeamID, sb id.SandboxID, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, sandbox.Fieldf("port", "must be between 1 and 65535, got %d", port)
	}
	row, err := s.Get(ctx, team, sb)
	if err != nil {
		return nil, err
	}
	if row.Status != string(sandbox.StatusRunning) {
		return nil, fmt.Errorf("sandbox %s: %w: it is %s, not running", sb, sandbox.ErrConflict, row.Status)
	}
	if o, err := s.remote(ctx, row); err != nil {
		return nil, err
	} else if o != nil {
		return o.DialPort(ctx, team, sb, port)
	}
	ip, err := s.mgr.IP(sb.String())
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, &PortError{Port: port, Err: err}
	}
	return conn, nil
}

// PortError is a port inside a sandbox that did not accept a connection.
type PortError struct {
	Port int
	Err  error
}

func (e *PortError) Error() string { return fmt.Sprintf("port %d: %v", e.Port, e.Err) }
func (e *PortError) Unwrap() error { return e.Err }
