package nodetest

import "github.com/warrenhq/warren/node"

// WithEgressAllow lets the node's internet-enabled sandboxes reach the given
// IPv4 CIDRs inside the ranges denied by default (--egress-allow).
func WithEgressAllow(cidrs ...string) Option {
	return func(c *node.Config) { c.EgressAllow = append(c.EgressAllow, cidrs...) }
}

// WithAdvertise sets the address the node advertises to its peers
// (--advertise); it joins the node's platform addresses.
func WithAdvertise(addr string) Option {
	return func(c *node.Config) { c.Cluster.Advertise = addr }
}

// WithEgress sets the node's default for destinations a sandbox's own
// rules do not name ("allow" or "deny", --egress) and the DNS server for
// domain rules (--egress-resolver; "" keeps the host's).
func WithEgress(def, resolver string) Option {
	return func(c *node.Config) { c.Egress, c.EgressResolver = def, resolver }
}
