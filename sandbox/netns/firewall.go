package netns

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"text/template"
)

// tableName is the name of both nftables tables (inet and bridge) of a manager.
func (m *Manager) tableName() string { return "warren_" + m.cfg.Prefix }

// rulesetTmpl declares the tables, sets and chains (a no-op when they exist, so
// set elements of running sandboxes survive a node restart), then flushes and
// refills every chain. nft applies the whole script as one transaction.
var rulesetTmpl = template.Must(template.New("ruleset").Parse(`
table inet {{.T}} {
	set internet { type ipv4_addr; }
	set platform { type ipv4_addr; }
	map egress { type ipv4_addr : verdict; }
	chain input { type filter hook input priority -10; policy accept; }
	chain forward { type filter hook forward priority -10; policy accept; }
	chain postrouting { type nat hook postrouting priority 100; policy accept; }
	chain sb_input { }
	chain sb_forward { }
	chain to_sb { }
	chain refuse { }
}
flush chain inet {{.T}} input
flush chain inet {{.T}} forward
flush chain inet {{.T}} postrouting
flush chain inet {{.T}} sb_input
flush chain inet {{.T}} sb_forward
flush chain inet {{.T}} to_sb
flush chain inet {{.T}} refuse
add rule inet {{.T}} input iifname "{{.Br}}" jump sb_input
add rule inet {{.T}} sb_input ct state established,related accept
{{- if .Ports}}
add rule inet {{.T}} sb_input ip daddr {{.GW}} tcp dport { {{.Ports}} } accept
add rule inet {{.T}} sb_input ip daddr {{.GW}} udp dport { {{.Ports}} } accept
{{- end}}
add rule inet {{.T}} sb_input meta l4proto tcp reject with tcp reset
add rule inet {{.T}} sb_input reject with icmpx type admin-prohibited
add rule inet {{.T}} forward iifname "{{.Br}}" jump sb_forward
add rule inet {{.T}} forward oifname "{{.Br}}" jump to_sb
add rule inet {{.T}} sb_forward oifname "{{.Br}}" drop
add rule inet {{.T}} sb_forward ip saddr != @internet reject with icmpx type admin-prohibited
{{- if .DNS}}
add rule inet {{.T}} sb_forward ip daddr { {{.DNS}} } udp dport 53 accept
add rule inet {{.T}} sb_forward ip daddr { {{.DNS}} } tcp dport 53 accept
add rule inet {{.T}} sb_forward ip daddr { {{.DNS}} } jump refuse
{{- end}}
add rule inet {{.T}} sb_forward ip daddr @platform jump refuse
{{- if .Deny}}
add rule inet {{.T}} sb_forward ip daddr { {{.Deny}} } jump refuse
{{- end}}
add rule inet {{.T}} sb_forward ip saddr vmap @egress
{{- if .Allow}}
add rule inet {{.T}} sb_forward ip daddr { {{.Allow}} } accept
{{- end}}
add rule inet {{.T}} sb_forward ip daddr { {{.Denied}} } jump refuse
add rule inet {{.T}} sb_forward accept
add rule inet {{.T}} refuse meta l4proto tcp reject with tcp reset
add rule inet {{.T}} refuse reject with icmpx type admin-prohibited
add rule inet {{.T}} to_sb ct state established,related accept
add rule inet {{.T}} to_sb drop
add rule inet {{.T}} postrouting ip saddr @internet oifname != "{{.Br}}" masquerade
table bridge {{.T}} {
	set ports { type ifname . ipv4_addr; }
	chain prerouting { type filter hook prerouting priority -200; policy accept; }
	chain from_sb { }
}
flush chain bridge {{.T}} prerouting
flush chain bridge {{.T}} from_sb
add rule bridge {{.T}} prerouting iifname "{{.VethPrefix}}*" jump from_sb
add rule bridge {{.T}} from_sb ether type ip iifname . ip saddr @ports accept
add rule bridge {{.T}} from_sb ether type arp iifname . arp saddr ip @ports accept
add rule bridge {{.T}} from_sb drop
`))

func (m *Manager) ruleset() string {
	var ports, dns []string
	for _, p := range m.cfg.HostPorts {
		ports = append(ports, fmt.Sprint(p))
	}
	for _, a := range m.cfg.Nameservers {
		dns = append(dns, a.String())
	}
	var b bytes.Buffer
	rulesetTmpl.Execute(&b, map[string]string{
		"T": m.tableName(), "Br": m.cfg.Bridge, "GW": m.gateway().String(), "VethPrefix": m.cfg.Prefix + "-",
		"Ports": strings.Join(ports, ", "), "DNS": strings.Join(dns, ", "),
		"Deny": prefixList(m.cfg.DenyDestinations), "Allow": prefixList(m.cfg.EgressAllow),
		"Denied": prefixList(DefaultDenied),
	})
	return b.String()
}

// prefixList renders prefixes as the elements of an anonymous nft set,
// leaving out those inside another one: nft refuses overlapping intervals.
func prefixList(ps []netip.Prefix) string {
	var out []string
	for i, p := range ps {
		p = p.Masked()
		covered := false
		for j, q := range ps {
			q = q.Masked()
			if i != j && q.Bits() <= p.Bits() && q.Contains(p.Addr()) && (q != p || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p.String())
		}
	}
	return strings.Join(out, ", ")
}

// installFirewall applies the ruleset with nft(8); idempotent.
func (m *Manager) installFirewall(ctx context.Context) error {
	if err := runNft(ctx, m.ruleset()); err != nil {
		return fmt.Errorf("netns: install firewall tables %s: %w", m.tableName(), err)
	}
	return nil
}

// removeFirewall deletes both tables; missing tables are not an error.
func (m *Manager) removeFirewall(ctx context.Context) error {
	t := m.tableName()
	// Declaring a table first makes the delete succeed when it is absent.
	script := fmt.Sprintf("table inet %s\ndelete table inet %s\ntable bridge %s\ndelete table bridge %s\n", t, t, t, t)
	if err := runNft(ctx, script); err != nil {
		return fmt.Errorf("netns: remove firewall tables %s: %w", t, err)
	}
	return nil
}

func runNft(ctx context.Context, script string) error {
	path, err := exec.LookPath("nft")
	if err != nil {
		return fmt.Errorf("nft(8) not found (install the nftables package): %w", ErrUnavailable)
	}
	cmd := exec.CommandContext(ctx, path, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft -f: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}
