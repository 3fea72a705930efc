package main

import (
	"fmt"

	"github.com/google/nftables"
)

// nftflush <table>: as the sandbox's root, flush the whole nftables ruleset
// and delete the node's inet table by name, over netlink. Either failing is
// the expected answer; the caller checks the rules still hold either way
// (a success here touches only the sandbox's own netns).
func init() {
	attacks["nftflush"] = func(args []string) string {
		c, err := nftables.New()
		if err != nil {
			return "BLOCKED nftables socket: " + err.Error()
		}
		c.FlushRuleset()
		flushErr := c.Flush()
		c.DelTable(&nftables.Table{Name: args[0], Family: nftables.TableFamilyINet})
		delErr := c.Flush()
		if flushErr != nil && delErr != nil {
			return fmt.Sprintf("BLOCKED flush ruleset: %v; delete table %s: %v", flushErr, args[0], delErr)
		}
		return fmt.Sprintf("ESCAPED netlink accepted: flush ruleset: %v; delete table %s: %v", flushErr, args[0], delErr)
	}
}
