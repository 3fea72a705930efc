package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

var fwSeq atomic.Uint32

// Firewall cuts links between loopback addresses with a private nftables table
// (inet family, input hook) that drops packets between chosen address pairs. Every
// node's gossip and raft traffic leaves from its own address, so this is a real
// network-level partition. Needs root and the nft binary.
type Firewall struct {
	table string
}

// Partition cuts every link between a side and b side, in both directions, and
// returns the firewall so the caller can Heal it; it is removed at cleanup.
func (tc *Cluster) Partition(a, b []*Node) *Firewall {
	tc.t.Helper()
	ips := func(ns []*Node) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.IP)
		}
		return out
	}
	return Cut(tc.t, ips(a), ips(b))
}

// Cut drops every packet between an address of a and one of b, in both
// directions, and returns the firewall so the caller can Heal it; it is removed
// at cleanup. For nodes bound to their own loopback addresses (LoopbackIP).
func Cut(t testing.TB, a, b []string) *Firewall {
	t.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatalf("partition needs the nft binary (apt nftables): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("partition needs root (nftables)")
	}
	fw := &Firewall{table: fmt.Sprintf("warren_clustertest_%d_%d", os.Getpid(), fwSeq.Add(1))}
	var rules strings.Builder
	fmt.Fprintf(&rules, "table inet %s {\n chain input {\n  type filter hook input priority -10; policy accept;\n", fw.table)
	for _, x := range a {
		for _, y := range b {
			fmt.Fprintf(&rules, "  ip saddr %s ip daddr %s drop\n  ip saddr %s ip daddr %s drop\n", x, y, y, x)
		}
	}
	rules.WriteString(" }\n}\n")
	if out, err := nft(rules.String()); err != nil {
		t.Fatalf("install partition table %s: %v: %s", fw.table, err, out)
	}
	t.Cleanup(func() { fw.Heal() })
	return fw
}

// Heal removes the partition; it is idempotent.
func (fw *Firewall) Heal() error {
	if fw.table == "" {
		return nil
	}
	out, err := exec.Command("nft", "delete", "table", "inet", fw.table).CombinedOutput()
	if err != nil {
		return fmt.Errorf("delete nft table %s: %w: %s", fw.table, err, out)
	}
	fw.table = ""
	return nil
}

func nft(script string) ([]byte, error) {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	return cmd.CombinedOutput()
}
