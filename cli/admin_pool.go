package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/api/client"
)

// templatePoolCmd is `warren admin template pool TEMPLATE --count N
// [--vcpus V --memory-mb M --disk-size-mb D]`.
func templatePoolCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pool TEMPLATE",
		Short: "Set a template's warm pool: sandboxes of one class every node keeps pre-started",
		Long: "TEMPLATE is a template ID or name. Every node that is not draining keeps --count\n" +
			"sandboxes of the class (--vcpus, --memory-mb, --disk-size-mb; absent: the template's\n" +
			"and the node's defaults) started; a create of exactly that class claims one. 0 empties it.",
		Args: cobra.ExactArgs(1),
	}
	var (
		s            client.PoolSettings
		vcpus        float64
		memory, disk int64
		noInternet   bool
	)
	cmd.Flags().Int64Var(&s.Count, "count", 0, "pooled sandboxes per node (required; 0 empties the pool)")
	cmd.Flags().Float64Var(&vcpus, "vcpus", 0, "vCPUs of the pool's class")
	cmd.Flags().Int64Var(&memory, "memory-mb", 0, "memory MB of the pool's class")
	cmd.Flags().Int64Var(&disk, "disk-size-mb", 0, "disk MB of the pool's class")
	cmd.Flags().BoolVar(&noInternet, "no-internet", false, "the class without internet access")
	f := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		fl := cmd.Flags()
		if !fl.Changed("count") {
			return fmt.Errorf("--count is required")
		}
		if fl.Changed("vcpus") {
			s.VCPUs = &vcpus
		}
		if fl.Changed("memory-mb") {
			s.MemoryMB = &memory
		}
		if fl.Changed("disk-size-mb") {
			s.DiskSizeMB = &disk
		}
		if noInternet {
			f := false
			s.AllowInternet = &f
		}
		c, err := f.client()
		if err != nil {
			return err
		}
		tpl, err := resolveTemplate(cmd, c, args[0])
		if err != nil {
			return err
		}
		p, err := c.SetPool(cmd.Context(), tpl, s)
		if err != nil {
			return err
		}
		if f.json() {
			return printJSON(cmd.OutOrStdout(), p)
		}
		t := newTable(cmd.OutOrStdout(), "TEMPLATE", "VCPUS", "MEMORY_MB", "DISK_MB", "INTERNET", "COUNT")
		t.row(p.TemplateID, fmt.Sprint(p.VCPUs), fmt.Sprint(p.MemoryMB), fmt.Sprint(p.DiskSizeMB), fmt.Sprint(p.AllowInternet), fmt.Sprint(p.Count))
		return t.flush()
	}
	return cmd
}

// resolveTemplate returns the ID of the template named ref (an ID or a
// name the caller's team sees).
func resolveTemplate(cmd *cobra.Command, c *client.Client, ref string) (string, error) {
	if strings.HasPrefix(ref, "tpl-") {
		return ref, nil
	}
	tpls, err := c.ListTemplates(cmd.Context(), "")
	if err != nil {
		return "", err
	}
	for _, t := range tpls {
		if t.Name == ref {
			return t.ID, nil
		}
	}
	return "", fmt.Errorf("no template named %q", ref)
}
