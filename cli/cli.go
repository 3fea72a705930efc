// Package cli is the `warren` command line: the node commands (`node`, `dev`, the
// hidden `agent`) and the client commands that talk to the REST API. main calls Run
// and exits with its code; nothing here holds node or API logic.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a specific exit code (e.g. an exec'd command's).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Run executes the command line args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "warren:", err)
	return 1
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "warren",
		Short:         "Warren: self-hosted sandboxes for untrusted code",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDevCmd(), newNodeCmd(), newAgentCmd(), newVersionCmd())
	for _, c := range commands {
		root.AddCommand(c())
	}
	return root
}

// commands are the further top-level commands; each file registers its own in
// an init function, so command files do not all edit this one.
var commands []func() *cobra.Command
