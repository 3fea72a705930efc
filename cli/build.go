package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/api/client"
)

func init() { commands = append(commands, newBuildCmd) }

func newBuildCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "build",
		Short: "List, follow and cancel template builds (admin); start one with `warren template build`",
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(newBuildListCmd(f), newBuildLogsCmd(f), newBuildCancelCmd(f))
	return cmd
}

func newBuildListCmd(f *clientFlags) *cobra.Command {
	var (
		opts  client.ListBuildsOptions
		limit int
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List builds, newest first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if opts.Limit, err = pageSize(limit); err != nil {
				return err
			}
			out, err := collect(c.Builds(cmd.Context(), opts), limit)
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(cmd.OutOrStdout(), out)
			}
			t := newTable(cmd.OutOrStdout(), "ID", "NAME", "STATUS", "STEP", "TEMPLATE", "SIZE", "CREATED")
			for _, b := range out {
				t.row(b.ID, b.Name, b.Status, fmt.Sprintf("%d/%d", b.CurrentStep, b.TotalSteps), dash(b.TemplateID),
					humanBytes(b.SizeBytes), ago(b.CreatedAt))
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&opts.Status, "status", "", "only builds in this status (queued, running, succeeded, failed, cancelled)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many builds (0: all)")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newBuildLogsCmd(f *clientFlags) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs BUILD",
		Short: "Print a build's step logs (--follow waits for the end)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if follow {
				return followBuild(cmd, f, c, args[0])
			}
			b, err := c.GetBuild(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(cmd.OutOrStdout(), b)
			}
			for _, l := range b.Logs {
				printStepLog(cmd.OutOrStdout(), l, b.TotalSteps)
			}
			printBuildEnd(cmd.OutOrStdout(), b)
			return nil
		},
	}
	cmd.Flags().BoolVar(&follow, "follow", false, "wait until the build ends, printing steps as they finish")
	return cmd
}

func newBuildCancelCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel BUILD",
		Short: "Cancel a queued or running build",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			b, err := c.CancelBuild(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(cmd.OutOrStdout(), b)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", b.ID, b.Status)
			return nil
		},
	}
}

// followBuild waits for a build, printing each step's log once and a progress
// bar on a terminal. With -o json it prints the final build. A build that does
// not succeed is an error (exit status 1).
func followBuild(cmd *cobra.Command, f *clientFlags, c *client.Client, id string) error {
	out := cmd.OutOrStdout()
	var bar *progressBar
	if !f.json() && isTerminal(out) {
		bar = newProgressBar(out, "build "+id)
	}
	total := 0
	b, err := c.FollowBuild(cmd.Context(), id, client.FollowOptions{
		Interval: 500 * time.Millisecond,
		OnLog: func(l client.BuildLog) {
			if f.json() {
				return
			}
			if bar != nil {
				bar.clear()
			}
			printStepLog(out, l, total)
		},
		OnProgress: func(b client.Build) {
			total = b.TotalSteps
			if bar != nil {
				bar.label = "build " + b.ID + " " + b.Status
				bar.update(int64(b.CurrentStep), int64(b.TotalSteps), "steps", true)
			}
		},
	})
	if bar != nil {
		bar.done()
	}
	if f.json() && b.ID != "" {
		_ = printJSON(out, b)
	} else if b.ID != "" {
		printBuildEnd(out, b)
	}
	return err
}

func printStepLog(w io.Writer, l client.BuildLog, total int) {
	of := ""
	if total > 0 {
		of = fmt.Sprintf("/%d", total)
	}
	fmt.Fprintf(w, "==> step %d%s: %s\n", l.Step, of, l.Cmd)
	for _, s := range []struct {
		text      string
		truncated bool
	}{{l.Stdout, l.StdoutTruncated}, {l.Stderr, l.StderrTruncated}} {
		if s.text != "" {
			fmt.Fprint(w, s.text)
			if !strings.HasSuffix(s.text, "\n") {
				fmt.Fprintln(w)
			}
		}
		if s.truncated {
			fmt.Fprintln(w, "    [output truncated]")
		}
	}
	fmt.Fprintf(w, "    exit %d in %s\n", l.ExitCode, (time.Duration(l.ElapsedMS) * time.Millisecond).String())
}

func printBuildEnd(w io.Writer, b client.Build) {
	switch b.Status {
	case client.BuildSucceeded:
		fmt.Fprintf(w, "build %s succeeded: template %s (%s, %s)\n", b.ID, b.Name, dash(b.TemplateID), humanBytes(b.SizeBytes))
	case client.BuildFailed, client.BuildCancelled:
		msg := ""
		if b.Error != "" {
			msg = ": " + b.Error
		}
		fmt.Fprintf(w, "build %s %s%s\n", b.ID, b.Status, msg)
	default:
		fmt.Fprintf(w, "build %s %s (step %d of %d)\n", b.ID, b.Status, b.CurrentStep, b.TotalSteps)
	}
}
