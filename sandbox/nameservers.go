package sandbox

import "net/netip"

// HostNameservers returns the nameservers every sandbox's resolv.conf lists
// (the host's non-loopback IPv4 resolvers), for the network's DNS allowance.
func HostNameservers() []netip.Addr {
	var out []netip.Addr
	for _, s := range hostNameservers("/etc/resolv.conf") {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}
