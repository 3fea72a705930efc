package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandbox/agent"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// stepError is a failed step; its output is in the logs.
type stepError struct {
	step int
	msg  string
}

func (e *stepError) Error() string { return fmt.Sprintf("step %d %s", e.step, e.msg) }

// run executes one claimed build to its end, recording the outcome.
func (b *Builder) run(ctx context.Context, cancel context.CancelFunc, bld db.TemplateBuild) {
	log := b.log.With("build", bld.ID, "name", bld.Name)
	log.Info("build started")
	start := time.Now()
	stopWatch := b.watchCancel(ctx, cancel, bld.ID)
	defer stopWatch()

	var sb *db.Sandbox
	tpl, err := b.execute(ctx, bld, &sb)
	if b.crashed.Load() {
		return // a crashed node records nothing; the leader fails the build
	}
	if sb != nil {
		// Detached: the build sandbox goes on every path.
		if _, kerr := b.svc.Kill(context.Background(), sb.TeamID, sb.ID); kerr != nil && !errors.Is(kerr, sandbox.ErrConflict) {
			log.Error("destroying the build sandbox", "sandbox", sb.ID, "err", kerr)
		}
	}
	if err == nil {
		log.Info("build succeeded", "template", tpl.ID, "size_bytes", tpl.SizeBytes, "elapsed", time.Since(start))
		return
	}
	b.fail(ctx, bld, err)
}

// fail records a failed or cancelled build with a message fit for users; the
// details go to the log.
func (b *Builder) fail(ctx context.Context, bld db.TemplateBuild, cause error) {
	status, msg := "failed", ""
	var se *stepError
	switch {
	case b.cancelRequested(bld.ID):
		status, msg = "cancelled", "cancelled"
	case errors.As(cause, &se):
		msg = se.Error()
	case ctx.Err() != nil:
		msg = "the node stopped during the build; submit it again"
	default:
		msg = userMessage(cause)
	}
	b.log.Warn("build ended without a template", "build", bld.ID, "status", status, "err", cause)
	dctx, done := context.WithTimeout(context.Background(), 30*time.Second)
	defer done()
	if _, err := b.st.FailBuild(dctx, db.FailBuildParams{ID: bld.ID, Status: status, Error: msg}); err != nil {
		b.log.Error("recording a failed build", "build", bld.ID, "err", err)
	}
}

// userMessage keeps the categories users can act on and hides internals.
func userMessage(err error) string {
	var fe *sandbox.FieldError
	switch {
	case errors.As(err, &fe) && fe.Field == "template":
		return "base template: " + fe.Message
	case errors.As(err, &fe):
		return fe.Error()
	case errors.Is(err, sandbox.ErrUnavailable):
		return "no capacity for the build sandbox; submit it again later"
	}
	if msg := err.Error(); strings.Contains(msg, "healthcheck ") {
		return msg[strings.Index(msg, "healthcheck "):]
	}
	return "the build failed on the node; an admin can find the details in the node's log"
}

func (b *Builder) cancelRequested(bid id.BuildID) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := b.st.BuildCancelRequested(ctx, bid)
	return err == nil && v
}

// watchCancel polls for a cancel requested through another node.
func (b *Builder) watchCancel(ctx context.Context, cancel context.CancelFunc, bid id.BuildID) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(b.cfg.Poll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if b.cancelRequested(bid) {
					cancel()
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// execute creates the build sandbox, runs every step, and captures the result.
func (b *Builder) execute(ctx context.Context, bld db.TemplateBuild, sbOut **db.Sandbox) (db.Template, error) {
	var steps []string
	if err := json.Unmarshal(bld.Recipe, &steps); err != nil {
		return db.Template{}, fmt.Errorf("decoding recipe: %w", err)
	}
	vcpus, mem, disk := float64(bld.Vcpus), int64(bld.MemoryMb), int64(bld.DiskSizeMb)
	// The build sandbox outlives every step's timeout by an hour, within the
	// longest life a sandbox may have (a longer build is cut off there).
	timeout := min(int64(len(steps))*int64(bld.StepTimeoutSec)+3600, b.svc.Limits().MaxTimeoutSec)
	sb, err := b.svc.Create(ctx, sandboxes.CreateRequest{Team: bld.TeamID, Template: bld.BaseTemplate,
		VCPUs: &vcpus, MemoryMB: &mem, DiskSizeMB: &disk, TimeoutSec: &timeout, IsBuild: true,
		Metadata: map[string]string{"build": bld.ID.String()}})
	if err != nil {
		return db.Template{}, err
	}
	*sbOut = &sb
	if err := b.st.SetBuildSandbox(ctx, db.SetBuildSandboxParams{ID: bld.ID, SandboxID: &sb.ID}); err != nil {
		return db.Template{}, store.Map(err)
	}
	a, err := b.svc.Agent(ctx, sb.TeamID, sb.ID)
	if err != nil {
		return db.Template{}, err
	}
	for i, cmd := range steps {
		if err := b.step(ctx, a, bld, i+1, cmd); err != nil {
			return db.Template{}, err
		}
	}
	typ := "image"
	if bld.StartCmd != "" {
		typ = "snapshot"
		if _, err := a.Exec(ctx, agent.ExecOptions{Shell: bld.StartCmd, Background: true, Tag: "start"}, nil, nil); err != nil {
			return db.Template{}, fmt.Errorf("running the start command: %w", err)
		}
		hc, err := sandbox.ParseHealthcheck(bld.Healthcheck)
		if err != nil {
			return db.Template{}, err
		}
		if hc != nil {
			if err := hc.Wait(ctx, a); err != nil {
				return db.Template{}, err
			}
		}
	}
	buildID := bld.ID.UUID()
	return b.svc.Capture(ctx, b.images, sb.ID, db.CreateTemplateParams{
		TeamID: id.PlatformTeamID, Name: bld.Name, Type: typ, Vcpus: bld.Vcpus, MemoryMb: bld.MemoryMb,
		StartCmd: bld.StartCmd, Healthcheck: bld.Healthcheck, BuildID: &buildID,
	}, func(q *db.Queries, tpl db.Template) error {
		tid := tpl.ID.UUID()
		_, err := q.FinishBuild(ctx, db.FinishBuildParams{ID: bld.ID, TemplateID: &tid, SizeBytes: tpl.SizeBytes})
		if errors.Is(store.Map(err), store.ErrNotFound) {
			return fmt.Errorf("build %s: %w: it was cancelled or failed meanwhile", bld.ID, sandbox.ErrConflict)
		}
		return store.Map(err)
	})
}

// step runs one recipe step and appends its log entry.
func (b *Builder) step(ctx context.Context, a *agent.Client, bld db.TemplateBuild, n int, cmd string) error {
	stdout, stderr := newTail(MaxLogBytes), newTail(MaxLogBytes)
	started := time.Now()
	res, err := a.Exec(ctx, agent.ExecOptions{Shell: cmd, Timeout: time.Duration(bld.StepTimeoutSec) * time.Second}, stdout, stderr)
	if err != nil {
		return fmt.Errorf("step %d: %w", n, err)
	}
	entry := LogEntry{Step: n, Cmd: cmd, ExitCode: res.ExitCode, TimedOut: res.TimedOut,
		StartedAt: started.UTC().Format(time.RFC3339Nano), ElapsedMS: time.Since(started).Milliseconds()}
	entry.Stdout, entry.StdoutTruncated = stdout.result()
	entry.Stderr, entry.StderrTruncated = stderr.result()
	raw, _ := json.Marshal(entry)
	if _, err := b.st.AppendBuildLog(ctx, db.AppendBuildLogParams{ID: bld.ID, Entry: raw, Step: int32(n), NodeID: nodePtr(b.node)}); err != nil {
		return fmt.Errorf("recording step %d: %w", n, store.Map(err))
	}
	switch {
	case res.TimedOut:
		return &stepError{n, fmt.Sprintf("timed out after %ds", bld.StepTimeoutSec)}
	case res.ExitCode != 0:
		return &stepError{n, fmt.Sprintf("exited with code %d", res.ExitCode)}
	}
	return nil
}
