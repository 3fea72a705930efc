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
	"golang.org/x/term"

	"github.com/warrenhq/warren/api/client"
)

func newSandboxShellCmd(f *clientFlags) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "shell SANDBOX",
		Short: "Open an interactive terminal (the user's login shell) in a sandbox",
		Long: "Opens a terminal in the sandbox running the user's login shell. When stdin is a\n" +
			"terminal it is put in raw mode (Ctrl-C goes to the sandbox) and resizes follow\n" +
			"the window. warren exits with the shell's exit code.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			return runTerminal(cmd, c, args[0], client.PTYOptions{User: user})
		},
	}
	cmd.Flags().StringVarP(&user, "user", "u", "", "user to log in as")
	return cmd
}

// runTerminal runs a PTY session wired to this process's stdio: stdin in
// raw mode when it is a terminal (restored on the way out), the window size
// sent at the start and on every SIGWINCH. When stdin is not a terminal its
// end sends the terminal's EOF character (^D). The remote exit code becomes
// warren's.
func runTerminal(cmd *cobra.Command, c *client.Client, sb string, opts client.PTYOptions) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	stdin, stdout := cmd.InOrStdin(), cmd.OutOrStdout()
	in, isFile := stdin.(*os.File)
	tty := isFile && term.IsTerminal(int(in.Fd()))
	if tty {
		if w, h, err := term.GetSize(int(in.Fd())); err == nil {
			opts.Cols, opts.Rows = w, h
		}
	}
	p, err := c.OpenPTY(ctx, sb, opts)
	if err != nil {
		return err
	}
	defer p.Close()
	if tty {
		old, err := term.MakeRaw(int(in.Fd()))
		if err != nil {
			return fmt.Errorf("shell: raw mode on stdin: %w", err)
		}
		defer term.Restore(int(in.Fd()), old)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for {
				select {
				case <-winch:
					if w, h, err := term.GetSize(int(in.Fd())); err == nil {
						_ = p.Resize(w, h)
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		_, err := io.Copy(p, stdin)
		if err == nil && !tty {
			_, _ = p.Write([]byte{4}) // EOF at the start of a line
		}
	}()
	if _, err := io.Copy(stdout, p); err != nil {
		var pe *client.PTYError
		if errors.As(err, &pe) {
			return errors.New(pe.Message)
		}
		return err
	}
	ex, _ := p.Exit()
	code := ex.Code
	if code < 0 || code > 255 {
		code = 255
	}
	if code != 0 {
		return exitError{code: code}
	}
	return nil
}

// execTTY is `sandbox exec -t`: the command on a terminal. A single word
// runs through /bin/sh -c, as without -t. A terminal has one input and
// one output stream, and the PTY endpoint takes no environment, directory
// or timeout: those flags are refused.
func execTTY(cmd *cobra.Command, c *client.Client, sb string, argv []string, req client.ExecRequest, useStdin bool) error {
	switch {
	case len(req.Env) > 0:
		return errors.New("exec -t: --env is not supported on a terminal (set it in the command: -- 'FOO=bar cmd')")
	case req.Cwd != "":
		return errors.New("exec -t: --cwd is not supported on a terminal (cd in the command: -- 'cd /dir && cmd')")
	case req.TimeoutSec != 0:
		return errors.New("exec -t: --timeout is not supported on a terminal")
	case useStdin:
		return errors.New("exec -t: the terminal already reads stdin; drop --stdin")
	}
	if len(argv) == 1 {
		argv = []string{"/bin/sh", "-c", argv[0]}
	}
	return runTerminal(cmd, c, sb, client.PTYOptions{Cmd: argv, User: req.User})
}
