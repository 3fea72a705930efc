package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/api/client"
)

func newSandboxExecCmd(f *clientFlags) *cobra.Command {
	var (
		req      client.ExecRequest
		env      []string
		useStdin bool
		tty      bool
	)
	cmd := &cobra.Command{
		Use:   "exec SANDBOX -- COMMAND [ARGS...]",
		Short: "Run a command in a sandbox, streaming its output; exits with the command's exit code",
		Long: "Runs COMMAND in the sandbox and streams its stdout and stderr as they are produced.\n" +
			"A single COMMAND word runs through /bin/sh -c (so `-- 'echo $HOME; exit 3'` works);\n" +
			"COMMAND with ARGS runs directly. warren exits with the command's exit code.\n" +
			"With -t it runs on a terminal (raw mode and window resizes when stdin is one).",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if d := cmd.ArgsLenAtDash(); d > 1 {
				return fmt.Errorf("exec: put only the sandbox ID before --, got %q", strings.Join(args[:d], " "))
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if req.Env, err = parseKV("env", env); err != nil {
				return err
			}
			if tty {
				return execTTY(cmd, c, args[0], args[1:], req, useStdin)
			}
			req.Cmd = args[1]
			if len(args) > 2 {
				req.Args = args[2:]
			}
			if useStdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20+1))
				if err != nil {
					return fmt.Errorf("--stdin: %w", err)
				}
				if len(b) > 1<<20 {
					return errors.New("--stdin: at most 1 MiB of input (upload bigger inputs with `warren sandbox cp`)")
				}
				req.Stdin = string(b)
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			ex, err := c.ExecStream(cmd.Context(), args[0], req, client.ExecHandlers{
				Stdout: func(b []byte) error { _, err := stdout.Write(b); return err },
				Stderr: func(b []byte) error { _, err := stderr.Write(b); return err },
			})
			if err != nil {
				return err
			}
			if f.json() {
				_ = printJSON(stderr, ex)
			}
			code := ex.ExitCode
			if ex.TimedOut {
				fmt.Fprintf(stderr, "warren: the command timed out after %d ms\n", ex.DurationMS)
				if code == 0 {
					code = 124
				}
			}
			if code < 0 || code > 255 {
				code = 255
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&env, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	fl.StringVarP(&req.Cwd, "cwd", "w", "", "working directory inside the sandbox")
	fl.StringVarP(&req.User, "user", "u", "", "user to run as")
	fl.Int64Var(&req.TimeoutSec, "timeout", 0, "seconds before the command is killed (default 300)")
	fl.BoolVarP(&useStdin, "stdin", "i", false, "send this process's stdin (up to 1 MiB) to the command")
	fl.BoolVarP(&tty, "tty", "t", false, "run the command on a terminal, wired to this one")
	return cmd
}

// remoteSpec matches "sb-…:/path".
var remoteSpec = regexp.MustCompile(`^(sb-[0-9A-Za-z-]+):(.*)$`)

func splitRemote(s string) (sb, p string, ok bool) {
	m := remoteSpec.FindStringSubmatch(s)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

func newSandboxCpCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cp SRC DST",
		Short: "Copy a file between this machine and a sandbox",
		Long: "Copies one file. A sandbox side is written SANDBOX:/path, e.g.\n" +
			"  warren sandbox cp ./data.csv sb-…:/work/data.csv    (upload)\n" +
			"  warren sandbox cp sb-…:/work/out.json ./out.json    (download)\n" +
			"A sandbox path ending in / or a local directory keeps the source's file name;\n" +
			"- reads stdin or writes stdout.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcSB, srcPath, srcRemote := splitRemote(args[0])
			dstSB, dstPath, dstRemote := splitRemote(args[1])
			switch {
			case srcRemote && dstRemote:
				return errors.New("cp: copy between two sandboxes through this machine (download, then upload)")
			case !srcRemote && !dstRemote:
				return errors.New("cp: one of SRC and DST must be a sandbox path, SANDBOX:/path")
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if dstRemote {
				return upload(cmd, c, args[0], dstSB, dstPath)
			}
			return download(cmd, c, srcSB, srcPath, args[1])
		},
	}
}

func upload(cmd *cobra.Command, c *client.Client, local, sb, remote string) error {
	var (
		src  io.Reader
		opts client.UploadOptions
		name = filepath.Base(local)
	)
	if local == "-" {
		src, name = cmd.InOrStdin(), "stdin"
	} else {
		file, err := os.Open(local)
		if err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		defer file.Close()
		fi, err := file.Stat()
		if err != nil {
			return fmt.Errorf("cp: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("cp: %s is a directory; copy files one by one (or tar them first)", local)
		}
		src, opts.Size, opts.Mode = file, fi.Size(), uint32(fi.Mode().Perm())
	}
	if remote == "" || strings.HasSuffix(remote, "/") {
		if local == "-" {
			return errors.New("cp: name the sandbox file when copying from stdin")
		}
		remote = path.Join(remote, name)
		if !strings.HasPrefix(remote, "/") {
			remote = "/" + remote
		}
	}
	bar := transferBar(cmd, "upload "+name)
	if bar != nil {
		opts.Progress = func(done, total int64) { bar.update(done, total, "bytes", false) }
	}
	fi, err := c.Upload(cmd.Context(), sb, remote, src, opts)
	if bar != nil {
		bar.update(fi.Size, opts.Size, "bytes", true)
		bar.done()
	}
	return err
}

func download(cmd *cobra.Command, c *client.Client, sb, remote, local string) error {
	var bar *progressBar
	var progress client.Progress
	if local != "-" {
		if bar = transferBar(cmd, "download "+path.Base(remote)); bar != nil {
			progress = func(done, total int64) { bar.update(done, total, "bytes", false) }
		}
	}
	if local == "-" {
		_, err := c.Download(cmd.Context(), sb, remote, cmd.OutOrStdout(), nil)
		return err
	}
	rfi, err := c.Stat(cmd.Context(), sb, remote)
	if err != nil {
		return fmt.Errorf("cp: %s:%s: %w", sb, remote, err)
	}
	if rfi.Type != "file" {
		return fmt.Errorf("cp: %s:%s is a %s, not a file", sb, remote, rfi.Type)
	}
	if fi, err := os.Stat(local); err == nil && fi.IsDir() {
		local = filepath.Join(local, path.Base(remote))
	}
	// Write beside the destination and rename, so a failed copy leaves nothing.
	tmp, err := os.CreateTemp(filepath.Dir(local), "."+filepath.Base(local)+".warren-*")
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	if mode, perr := strconv.ParseUint(rfi.Mode, 8, 32); perr == nil {
		_ = tmp.Chmod(os.FileMode(mode) & 0o777)
	}
	n, err := c.Download(cmd.Context(), sb, remote, tmp, progress)
	if bar != nil {
		bar.update(n, n, "bytes", true)
		bar.done()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), local)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// transferBar returns a progress bar when stdout is a terminal, else nil.
func transferBar(cmd *cobra.Command, label string) *progressBar {
	if !isTerminal(cmd.OutOrStdout()) {
		return nil
	}
	return newProgressBar(cmd.OutOrStdout(), label)
}
