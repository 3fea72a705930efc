package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/warrenhq/warren/sandbox/runc"
)

// sandboxRuntime resolves --runtime into the sandbox manager's default
// runtime and whether gVisor is offered beside runc. gvisor is taken as
// asked (a broken runsc then fails the node's start in sandbox.New or each
// create, loudly); auto runs gVisor's self-test and falls back to runc with
// one log line saying why; runc offers gVisor as well when runsc is
// installed, to creates that ask for it.
func sandboxRuntime(ctx context.Context, mode string, log *slog.Logger) (runc.Runtime, bool) {
	switch mode {
	case "gvisor":
		return runc.RuntimeGVisor, true
	case "auto":
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := runc.SelfTestGVisor(tctx, ""); err != nil {
			log.Warn("sandbox runtime: gVisor's self-test failed, using runc", "err", err)
			return runc.RuntimeRunc, false
		}
		log.Info("sandbox runtime: gVisor (its self-test passed)")
		return runc.RuntimeGVisor, true
	default:
		return runc.RuntimeRunc, runc.Available(runc.RuntimeGVisor)
	}
}
