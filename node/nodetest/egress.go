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
