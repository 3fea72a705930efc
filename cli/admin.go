package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/api/client"
)

func init() { commands = append(commands, newAdminCmd, newQuotaCmd) }

// newAdminCmd is `warren admin team quota TEAM [--sandboxes N …]` and
// `warren admin template pool TEMPLATE --count N` (admin_pool.go).
func newAdminCmd() *cobra.Command {
	adm := &cobra.Command{Use: "admin", Short: "Administer teams and templates (admin)"}
	tm := &cobra.Command{Use: "team", Short: "Administer a team (admin)"}
	tm.AddCommand(teamQuotaCmd())
	tpl := &cobra.Command{Use: "template", Short: "Administer a template (admin)"}
	tpl.AddCommand(templatePoolCmd())
	adm.AddCommand(tm, tpl)
	return adm
}

// quotaFlags are the four limits as typed: a number, or "default".
type quotaFlags struct{ sandboxes, vcpus, memory, disk string }

func teamQuotaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quota TEAM",
		Short: "Show a team's quota and usage, or change its limits (a number, 0 = unlimited, or \"default\")",
		Long: "TEAM is a team ID or name. Without flags it shows the team's quota; each flag given\n" +
			"changes one limit on the team's live sandboxes (creating, running, paused; builds\n" +
			"not counted) and leaves the others as they are. \"default\" returns a limit to the\n" +
			"operator's default (the node's --team-max-* flags); 0 is unlimited.",
		Args: cobra.ExactArgs(1),
	}
	var qf quotaFlags
	cmd.Flags().StringVar(&qf.sandboxes, "sandboxes", "", "live sandboxes at most")
	cmd.Flags().StringVar(&qf.vcpus, "vcpus", "", "vCPUs of live sandboxes at most")
	cmd.Flags().StringVar(&qf.memory, "memory-mb", "", "memory MB of live sandboxes at most")
	cmd.Flags().StringVar(&qf.disk, "disk-mb", "", "disk MB of live sandboxes at most")
	f := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		team, err := resolveTeam(cmd, c, args[0])
		if err != nil {
			return err
		}
		q, err := c.TeamQuota(cmd.Context(), team)
		if err != nil {
			return err
		}
		fl := cmd.Flags()
		if fl.Changed("sandboxes") || fl.Changed("vcpus") || fl.Changed("memory-mb") || fl.Changed("disk-mb") {
			s := q.Team
			for _, x := range []struct {
				flag, val string
				dst       **int64
			}{{"sandboxes", qf.sandboxes, &s.MaxSandboxes}, {"memory-mb", qf.memory, &s.MaxMemoryMB}, {"disk-mb", qf.disk, &s.MaxDiskMB}} {
				if fl.Changed(x.flag) {
					if *x.dst, err = parseLimit(x.flag, x.val, strconv.ParseInt); err != nil {
						return err
					}
				}
			}
			if fl.Changed("vcpus") {
				if s.MaxVCPUs, err = parseLimit("vcpus", qf.vcpus, func(v string, _, _ int) (float64, error) { return strconv.ParseFloat(v, 64) }); err != nil {
					return err
				}
			}
			if q, err = c.SetTeamQuota(cmd.Context(), team, s); err != nil {
				return err
			}
		}
		if f.json() {
			return printJSON(cmd.OutOrStdout(), q)
		}
		return printQuota(cmd.OutOrStdout(), q)
	}
	return cmd
}

// parseLimit reads a limit flag: "default" is nil, otherwise a number ≥ 0.
func parseLimit[T int64 | float64](flag, v string, parse func(string, int, int) (T, error)) (*T, error) {
	if strings.EqualFold(v, "default") {
		return nil, nil
	}
	n, err := parse(v, 10, 64)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("--%s: want a number ≥ 0 (0 = unlimited) or \"default\", got %q", flag, v)
	}
	return &n, nil
}

// resolveTeam returns the ID of the team named ref (an ID or a name).
func resolveTeam(cmd *cobra.Command, c *client.Client, ref string) (string, error) {
	if strings.HasPrefix(ref, "team-") {
		return ref, nil
	}
	teams, err := c.ListTeams(cmd.Context())
	if err != nil {
		return "", err
	}
	for _, t := range teams {
		if t.Name == ref {
			return t.ID, nil
		}
	}
	return "", fmt.Errorf("no team named %q", ref)
}

// newQuotaCmd is `warren quota`: the caller's own team's quota.
func newQuotaCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "quota", Short: "Show your team's quota on live sandboxes and its usage", Args: cobra.NoArgs}
	f := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		q, err := c.MyQuota(cmd.Context())
		if err != nil {
			return err
		}
		if f.json() {
			return printJSON(cmd.OutOrStdout(), q)
		}
		return printQuota(cmd.OutOrStdout(), q)
	}
	return cmd
}

func printQuota(w io.Writer, q client.Quota) error {
	fmt.Fprintf(w, "team %s\n", q.TeamID)
	t := newTable(w, "QUOTA", "USED", "LIMIT", "SET BY")
	row := func(name string, used, limit float64, own bool) {
		lim, by := strconv.FormatFloat(limit, 'f', -1, 64), "default"
		if limit == 0 {
			lim = "unlimited"
		}
		if own {
			by = "team"
		}
		t.row(name, strconv.FormatFloat(used, 'f', -1, 64), lim, by)
	}
	row("sandboxes", float64(q.Usage.Sandboxes), float64(q.Limits.MaxSandboxes), q.Team.MaxSandboxes != nil)
	row("vcpus", q.Usage.VCPUs, q.Limits.MaxVCPUs, q.Team.MaxVCPUs != nil)
	row("memory_mb", float64(q.Usage.MemoryMB), float64(q.Limits.MaxMemoryMB), q.Team.MaxMemoryMB != nil)
	row("disk_mb", float64(q.Usage.DiskMB), float64(q.Limits.MaxDiskMB), q.Team.MaxDiskMB != nil)
	return t.flush()
}
