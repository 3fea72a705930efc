package agent

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// Main is the hidden `warren agent` command: it parses args (without the
// command name), runs the agent until SIGTERM or SIGINT and returns the exit
// status.
func Main(args []string) int {
	return runMain(args, os.Stderr)
}

func runMain(args []string, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("warren agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.ListenFD, "listen-fd", 0, "inherited bound unix socket to listen and serve on (how a sandbox's agent is started)")
	fs.StringVar(&cfg.SocketPath, "socket", "", "unix socket path to create and serve on (outside a sandbox)")
	fs.StringVar(&cfg.Root, "root", cfg.Root, "directory file calls resolve in")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", cfg.ShutdownGrace, "time processes get between SIGTERM and SIGKILL at shutdown")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "warren agent: unexpected arguments %q\n", fs.Args())
		return 2
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("component", "agent")
	// Not dumpable: ptrace of the agent then needs CAP_SYS_PTRACE, which
	// sandbox root lacks, so nothing inside can attach to PID 1 to read its
	// memory or close its socket. Children it execs are dumpable again.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		cfg.Logger.Error("agent failed", "err", fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", err))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	defer stop()
	if err := Run(ctx, cfg); err != nil {
		cfg.Logger.Error("agent failed", "err", err)
		return 1
	}
	return 0
}
