package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/api/client"
)

func init() { commands = append(commands, newNodesCmd) }

// newNodesCmd is `warren nodes ls|drain|undrain`. The same subcommands come
// from nodeClientCmds, for `warren node` to add beside running a node.
func newNodesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "List the cluster's nodes and drain them (admin)",
	}
	cmd.AddCommand(nodeClientCmds()...)
	return cmd
}

// nodeClientCmds returns ls, drain and undrain, each with the client flags.
func nodeClientCmds() []*cobra.Command {
	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the cluster's nodes, their capacity and the leader",
		Args:    cobra.NoArgs,
	}
	lf := addClientFlags(ls)
	ls.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := lf.client()
		if err != nil {
			return err
		}
		ns, err := c.ListNodes(cmd.Context())
		if err != nil {
			return err
		}
		if ns.Nodes == nil {
			ns.Nodes = []client.Node{}
		}
		if lf.json() {
			return printJSON(cmd.OutOrStdout(), ns)
		}
		t := newTable(cmd.OutOrStdout(), "ID", "NAME", "ROLE", "STATUS", "ADDRESS", "VCPUS FREE", "MEMORY FREE", "DISK FREE", "SANDBOXES", "VERSION")
		for _, n := range ns.Nodes {
			role, status := n.Role, n.Status
			if n.ID == ns.Leader {
				role += " (leader)"
			}
			if n.Draining {
				status += ",draining"
			}
			cp := n.Capacity
			t.row(n.ID, n.Name, role, status, n.HTTPAddr, fmt.Sprintf("%g/%g", cp.VCPUsFree, cp.VCPUsTotal),
				fmt.Sprintf("%d/%d MB", cp.MemoryMBFree, cp.MemoryMBTotal), humanBytes(cp.DiskBytesFree),
				fmt.Sprintf("%d/%d", cp.SandboxesRunning, cp.SandboxesMax), n.Version)
		}
		return t.flush()
	}
	return []*cobra.Command{ls, drainCmd("drain", "Stop placing new sandboxes on a node", (*client.Client).DrainNode),
		drainCmd("undrain", "Let a drained node take new sandboxes again", (*client.Client).UndrainNode)}
}

func drainCmd(name, short string, op func(*client.Client, context.Context, string) (client.Node, error)) *cobra.Command {
	cmd := &cobra.Command{Use: name + " NODE", Short: short, Args: cobra.ExactArgs(1)}
	f := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		n, err := op(c, cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if f.json() {
			return printJSON(cmd.OutOrStdout(), n)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s draining=%t\n", n.ID, n.Draining)
		return nil
	}
	return cmd
}
