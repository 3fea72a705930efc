package cli

import (
	"github.com/spf13/cobra"

	"github.com/warrenhq/warren/sandbox/agent"
)

// newAgentCmd is the hidden `warren agent`: PID 1 inside every sandbox.
func newAgentCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "agent",
		Short:              "Run the in-sandbox agent (PID 1 of a sandbox)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := agent.Main(args); code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
}
