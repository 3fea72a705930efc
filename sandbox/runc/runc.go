package runc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Config configures a Runc.
type Config struct {
	// Runtime is the OCI runtime driven: RuntimeRunc (default) or RuntimeGVisor.
	Runtime Runtime
	// Binary is the runtime's executable; default "runc" or "runsc" (looked up
	// in PATH).
	Binary string
	// Root is runc's state directory (runc --root), used by this Runc alone,
	// e.g. <data>/runc. Required.
	Root string
	// CgroupParent is the cgroup every container's cgroup lives under
	// (CgroupsPath), used alone by this Runc; default "/warren".
	CgroupParent string
	Logger       *slog.Logger
}

// Runc runs containers with the runc binary. Safe for concurrent use.
type Runc struct {
	rt     Runtime
	bin    string
	root   string
	parent string
	log    *slog.Logger
}

// State is a container's state as runc reports it.
type State struct {
	ID      string
	Pid     int    // host PID of the container's init; 0 when stopped
	Status  string // "created", "running", "paused" or "stopped"
	Bundle  string
	Created time.Time
}

// New checks cfg, finds the runc binary and creates the state directory.
func New(cfg Config) (*Runc, error) {
	if cfg.Runtime == "" {
		cfg.Runtime = RuntimeRunc
	}
	if _, err := ParseRuntime(string(cfg.Runtime)); err != nil {
		return nil, fmt.Errorf("runc: Config.Runtime: %w", err)
	}
	if cfg.Binary == "" {
		cfg.Binary = cfg.Runtime.defaultBinary()
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "/warren"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if !filepath.IsAbs(cfg.Root) {
		return nil, fmt.Errorf("runc: Config.Root %q is not an absolute path: %w", cfg.Root, ErrInvalid)
	}
	if p := cfg.CgroupParent; !strings.HasPrefix(p, "/") || filepath.Clean(p) != p || p == "/" {
		return nil, fmt.Errorf("runc: Config.CgroupParent %q must be a clean absolute path below /: %w", p, ErrInvalid)
	}
	bin, err := exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("runc: Config.Binary %q: %w (install it: scripts/deps)", cfg.Binary, err)
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("runc: state dir: %w", err)
	}
	return &Runc{rt: cfg.Runtime, bin: bin, root: cfg.Root, parent: cfg.CgroupParent, log: cfg.Logger}, nil
}

// CgroupsPath is the cgroup path of container id, for SpecOptions.CgroupsPath.
func (r *Runc) CgroupsPath(id string) string { return r.parent + "/" + id }

// Create writes spec to bundle/config.json and creates the container (runc
// create): its init is started and waits for Start. Files are handed to the
// init as fds 3, 4, … in order (runc --preserve-fds); the caller keeps and
// closes its own copies. If runc fails, nothing of the container is left (no
// state, process or cgroup).
func (r *Runc) Create(ctx context.Context, id, bundle string, spec *specs.Spec, files ...*os.File) (err error) {
	if err := ValidateID(id); err != nil {
		return err
	}
	if !filepath.IsAbs(bundle) {
		return fmt.Errorf("create %s: bundle %q is not an absolute path: %w", id, bundle, ErrInvalid)
	}
	if spec == nil || spec.Root == nil || spec.Process == nil || spec.Linux == nil {
		return fmt.Errorf("create %s: spec lacks root, process or linux: %w", id, ErrInvalid)
	}
	for i, f := range files {
		if f == nil {
			return fmt.Errorf("create %s: file %d is nil: %w", id, i, ErrInvalid)
		}
	}
	// runc keeps a container's state in <root>/<id>; checking the directory
	// instead of running `runc state` saves a process start on every create, and
	// keeps the failure cleanup below from removing an existing container.
	if _, err := os.Stat(r.statePath(id)); err == nil {
		return fmt.Errorf("create %s: container %w", id, ErrExists)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	// The init inherits runc's stdio: files, so runc's exit is not tied to the
	// container's lifetime (a pipe would be held open by the init).
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	defer stdin.Close()
	out, err := os.OpenFile(filepath.Join(bundle, "init.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", id, err)
	}
	defer out.Close()
	logPath := filepath.Join(bundle, "runc.log")
	_ = os.Remove(logPath)
	args := append(r.globalArgs(), "--log", logPath, "--log-format", "json", "create")
	if r.rt == RuntimeRunc {
		// --no-new-keyring: a session keyring per container counts against the
		// kernel's per-uid key quota (kernel.keys.maxkeys, 200 by default), and
		// every sandbox's root is the same host uid, so a node could hold only
		// ~200 sandboxes. Sandboxes cannot use keyrings anyway: the seccomp
		// profile refuses keyctl, add_key and request_key.
		args = append(args, "--no-new-keyring")
	}
	args = append(args, "--bundle", bundle, "--pid-file", filepath.Join(bundle, "init.pid"))
	if len(files) > 0 && r.rt == RuntimeGVisor {
		// runsc create hands on no fds (only runsc run has --pass-fd), and an
		// imported host socket cannot listen under gVisor anyway.
		return fmt.Errorf("create %s: gVisor containers take no inherited files: %w", id, ErrInvalid)
	}
	if len(files) > 0 {
		args = append(args, "--preserve-fds", strconv.Itoa(len(files)))
	}
	cmd := exec.CommandContext(ctx, r.bin, append(args, id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, out
	cmd.ExtraFiles = files
	start := time.Now()
	if err := cmd.Run(); err != nil {
		msg := runcLogError(logPath)
		r.log.Warn("runc create failed", "id", id, "err", err, "runc", msg)
		// Context cancellation kills runc create half-way: remove what it made.
		if cerr := r.forceRemove(id, spec.Linux.CgroupsPath); cerr != nil {
			r.log.Error("cleanup after failed create", "id", id, "err", cerr)
		}
		return r.wrap(ctx, "create", id, err, msg)
	}
	r.log.Debug("container created", "id", id, "took", time.Since(start))
	return nil
}

// Start runs the created container's init (runc start).
func (r *Runc) Start(ctx context.Context, id string) error {
	_, err := r.run(ctx, "start", id, "start", id)
	return err
}

// Run creates and starts the container, handing it files as Create does; if
// Start fails the container is deleted again.
func (r *Runc) Run(ctx context.Context, id, bundle string, spec *specs.Spec, files ...*os.File) error {
	if err := r.Create(ctx, id, bundle, spec, files...); err != nil {
		return err
	}
	if err := r.Start(ctx, id); err != nil {
		// Survives the caller's cancellation: a half-started container must go.
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if derr := r.Delete(dctx, id, true); derr != nil {
			r.log.Error("delete after failed start", "id", id, "err", derr)
		}
		return err
	}
	return nil
}

type stateJSON struct {
	ID      string    `json:"id"`
	Pid     int       `json:"pid"`
	Status  string    `json:"status"`
	Bundle  string    `json:"bundle"`
	Created time.Time `json:"created"`
}

func (s stateJSON) state() State {
	return State{ID: s.ID, Pid: s.Pid, Status: s.Status, Bundle: s.Bundle, Created: s.Created}
}

// State reports container id's state, or ErrNotFound.
func (r *Runc) State(ctx context.Context, id string) (State, error) {
	if err := ValidateID(id); err != nil {
		return State{}, err
	}
	out, err := r.run(ctx, "state", id, "state", id)
	if err != nil {
		return State{}, err
	}
	var s stateJSON
	if err := json.Unmarshal(out, &s); err != nil {
		return State{}, fmt.Errorf("state %s: decode runc output: %w", id, err)
	}
	return s.state(), nil
}

// List reports every container in this Runc's state directory.
func (r *Runc) List(ctx context.Context) ([]State, error) {
	out, err := r.run(ctx, "list", "", "list", "--format", "json")
	if err != nil {
		return nil, err
	}
	var ss []stateJSON
	if len(bytes.TrimSpace(out)) > 0 && !bytes.Equal(bytes.TrimSpace(out), []byte("null")) {
		if err := json.Unmarshal(out, &ss); err != nil {
			return nil, fmt.Errorf("list: decode runc output: %w", err)
		}
	}
	states := make([]State, 0, len(ss))
	for _, s := range ss {
		states = append(states, s.state())
	}
	return states, nil
}

// Pause freezes every process of the container (cgroup freezer).
func (r *Runc) Pause(ctx context.Context, id string) error {
	_, err := r.run(ctx, "pause", id, "pause", id)
	return err
}

// Resume thaws a paused container.
func (r *Runc) Resume(ctx context.Context, id string) error {
	_, err := r.run(ctx, "resume", id, "resume", id)
	return err
}

// Kill sends sig to the container's init, or with all to every process in it.
func (r *Runc) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := r.run(ctx, "kill", id, append(args, id, fmt.Sprint(int(sig)))...)
	return err
}

// run executes a runc subcommand that starts no container process, returning
// its stdout; failures become errors carrying runc's message.
func (r *Runc) run(ctx context.Context, op, id string, args ...string) ([]byte, error) {
	if id != "" {
		if err := ValidateID(id); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, r.bin, append(r.globalArgs(), args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, r.wrap(ctx, op, id, err, lastLine(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// wrap turns a failed runc run into an error of this package's categories.
func (r *Runc) wrap(ctx context.Context, op, id string, err error, msg string) error {
	what := op
	if id != "" {
		what = op + " " + id
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w (runc: %v %s)", what, ctx.Err(), err, msg)
	}
	var cat error = ErrRuntime
	switch {
	case strings.Contains(msg, "does not exist"):
		cat = ErrNotFound
	case strings.Contains(msg, "already exists") || strings.Contains(msg, "with id exists"):
		cat = ErrExists
	}
	if msg == "" {
		msg = err.Error()
	}
	return fmt.Errorf("%s: %s: %w", what, msg, cat)
}

// lastLine is the last non-empty line of runc's stderr: its error message
// (earlier lines are logrus's copy of it and warnings).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// runcLogError extracts the error messages from a runc --log-format json log.
func runcLogError(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var msgs []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e struct{ Level, Msg string }
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") && e.Msg != "" {
			if len(msgs) == 0 || msgs[len(msgs)-1] != e.Msg {
				msgs = append(msgs, e.Msg)
			}
		}
	}
	return strings.Join(msgs, "; ")
}
