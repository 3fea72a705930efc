package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/api/client"
)

func init() { commands = append(commands, newSandboxCmd) }

func newSandboxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "sandbox",
		Aliases: []string{"sb"},
		Short:   "Create, list, run commands in, copy files to and from, and kill sandboxes",
	}
	f := addClientFlags(cmd)
	cmd.AddCommand(newSandboxCreateCmd(f), newSandboxListCmd(f), newSandboxGetCmd(f), newSandboxExecCmd(f), newSandboxCpCmd(f),
		newSandboxShellCmd(f), newSandboxTimeoutCmd(f),
		newSandboxLifecycleCmd(f, "kill", "Kill sandboxes and free what they hold", (*client.Client).KillSandbox),
		newSandboxLifecycleCmd(f, "pause", "Freeze every process of running sandboxes", (*client.Client).PauseSandbox),
		newSandboxLifecycleCmd(f, "resume", "Resume paused sandboxes", (*client.Client).ResumeSandbox))
	return cmd
}

func newSandboxCreateCmd(f *clientFlags) *cobra.Command {
	var (
		req                   client.CreateSandbox
		vcpus                 float64
		memory, disk, timeout int64
		env, metadata         []string
		noInternet, quiet     bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a sandbox and wait until it runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			if fl.Changed("vcpus") {
				req.VCPUs = &vcpus
			}
			if fl.Changed("memory") {
				req.MemoryMB = &memory
			}
			if fl.Changed("disk") {
				req.DiskSizeMB = &disk
			}
			if fl.Changed("timeout") {
				req.TimeoutSec = &timeout
			}
			if noInternet {
				no := false
				req.AllowInternetAccess = &no
			}
			if req.Env, err = parseKV("env", env); err != nil {
				return err
			}
			if req.Metadata, err = parseKV("metadata", metadata); err != nil {
				return err
			}
			sb, err := c.CreateSandbox(cmd.Context(), req)
			if err != nil {
				return err
			}
			switch {
			case f.json():
				return printJSON(cmd.OutOrStdout(), sb)
			case quiet:
				_, err = fmt.Fprintln(cmd.OutOrStdout(), sb.ID)
				return err
			}
			return printSandboxes(cmd.OutOrStdout(), []client.Sandbox{sb})
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&req.Template, "template", "t", "base", "template name or tpl- ID")
	fl.Float64Var(&vcpus, "vcpus", 0, "vCPUs (default: the template's)")
	fl.Int64Var(&memory, "memory", 0, "memory in MB (default: the template's)")
	fl.Int64Var(&disk, "disk", 0, "disk size in MB (default 20480)")
	fl.Int64Var(&timeout, "timeout", 0, "seconds until the sandbox expires (default 300)")
	fl.StringArrayVarP(&env, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	fl.StringArrayVarP(&metadata, "metadata", "m", nil, "metadata key=value (repeatable)")
	fl.BoolVar(&noInternet, "no-internet", false, "deny access to the internet")
	fl.BoolVarP(&quiet, "quiet", "q", false, "print only the sandbox ID")
	return cmd
}

func newSandboxListCmd(f *clientFlags) *cobra.Command {
	var (
		opts     client.ListSandboxesOptions
		states   string
		metadata []string
		limit    int
	)
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the team's sandboxes, newest first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			if states != "" {
				opts.States = strings.Split(states, ",")
			}
			if opts.Metadata, err = parseKV("metadata", metadata); err != nil {
				return err
			}
			if opts.Limit, err = pageSize(limit); err != nil {
				return err
			}
			out, err := collect(c.Sandboxes(cmd.Context(), opts), limit)
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(cmd.OutOrStdout(), out)
			}
			return printSandboxes(cmd.OutOrStdout(), out)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&states, "state", "", "comma-separated statuses, e.g. running,paused")
	fl.StringVarP(&opts.Template, "template", "t", "", "only sandboxes of this template name")
	fl.StringArrayVarP(&metadata, "metadata", "m", nil, "only sandboxes with metadata key=value (repeatable)")
	fl.IntVar(&limit, "limit", 100, "at most this many sandboxes (0: all)")
	return cmd
}

func printSandboxes(w io.Writer, sbs []client.Sandbox) error {
	t := newTable(w, "ID", "TEMPLATE", "STATUS", "VCPUS", "MEMORY", "DISK", "CREATED", "EXPIRES")
	for _, sb := range sbs {
		t.row(sb.ID, sb.Template, sb.Status, strconv.FormatFloat(sb.VCPUs, 'g', -1, 64),
			fmt.Sprintf("%d MB", sb.MemoryMB), fmt.Sprintf("%d MB", sb.DiskSizeMB), ago(sb.CreatedAt), until(sb.ExpiresAt))
	}
	return t.flush()
}

func newSandboxGetCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get SANDBOX",
		Short: "Show a sandbox",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			sb, err := c.GetSandbox(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(cmd.OutOrStdout(), sb)
			}
			t := newTable(cmd.OutOrStdout(), "FIELD", "VALUE")
			t.row("id", sb.ID)
			t.row("template", sb.Template+" ("+sb.TemplateID+")")
			t.row("status", sb.Status)
			if sb.Error != "" {
				t.row("error", sb.Error)
			}
			t.row("vcpus", sb.VCPUs)
			t.row("memory", fmt.Sprintf("%d MB", sb.MemoryMB))
			t.row("disk", fmt.Sprintf("%d MB", sb.DiskSizeMB))
			t.row("timeout", fmt.Sprintf("%ds", sb.TimeoutSec))
			t.row("internet", sb.AllowInternetAccess)
			t.row("node", sb.NodeID)
			keys := make([]string, 0, len(sb.Metadata))
			for k := range sb.Metadata {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				t.row("metadata."+k, sb.Metadata[k])
			}
			t.row("created", sb.CreatedAt.Local().Format("2006-01-02 15:04:05"))
			t.row("expires", until(sb.ExpiresAt))
			return t.flush()
		},
	}
}

func newSandboxTimeoutCmd(f *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "timeout SANDBOX SECONDS",
		Short: "Set a sandbox to expire SECONDS from now",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sec, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || sec < 1 {
				return fmt.Errorf("SECONDS: %q is not a positive number of seconds", args[1])
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			sb, err := c.SetSandboxTimeout(cmd.Context(), args[0], sec)
			if err != nil {
				return err
			}
			if f.json() {
				return printJSON(cmd.OutOrStdout(), sb)
			}
			return printSandboxes(cmd.OutOrStdout(), []client.Sandbox{sb})
		},
	}
}

// newSandboxLifecycleCmd makes kill, pause and resume: one call per ID.
func newSandboxLifecycleCmd(f *clientFlags, name, short string, op func(*client.Client, context.Context, string) (client.Sandbox, error)) *cobra.Command {
	return &cobra.Command{
		Use:   name + " SANDBOX...",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			var out []client.Sandbox
			var failed []error
			for _, id := range args {
				sb, err := op(c, cmd.Context(), id)
				if err != nil {
					failed = append(failed, fmt.Errorf("%s: %w", id, err))
					continue
				}
				out = append(out, sb)
			}
			if f.json() {
				if out == nil {
					out = []client.Sandbox{}
				}
				_ = printJSON(cmd.OutOrStdout(), out)
			} else if len(out) > 0 {
				t := newTable(cmd.OutOrStdout(), "ID", "STATUS")
				for _, sb := range out {
					t.row(sb.ID, sb.Status)
				}
				_ = t.flush()
			}
			return errors.Join(failed...)
		},
	}
}
