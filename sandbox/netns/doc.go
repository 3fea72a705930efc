// Package netns is a node's per-sandbox networking: one network namespace per
// sandbox, joined by a veth pair to a node bridge on a private subnet, with an
// nftables firewall that isolates sandboxes from each other and from the node.
//
// # Vocabulary
//
//   - Manager: one per node (or per test), identified by a short Prefix that is
//     unique on the host. Every host object it creates carries the prefix: the
//     netns files /run/netns/<prefix>-<sandbox id>, the host veth ends
//     <prefix>-<hash of id>, and the nftables tables "warren_<prefix>" (families
//     inet and bridge). Cleanup therefore never touches another node's, another
//     test's or another program's objects.
//   - Bridge: a Linux bridge (default "warren0") holding the gateway address, the
//     first address of the Subnet (default 10.88.0.0/16).
//   - Sandbox: a named netns whose eth0 (the veth peer) has one address of the
//     subnet and a default route via the gateway. Its host veth end is a bridge
//     port with IFLA_BRPORT_ISOLATED set.
//
// # Isolation
//
//   - Sandbox to sandbox: isolated bridge ports never forward frames to each
//     other (no br_netfilter needed); routed traffic entering and leaving the
//     bridge is dropped by the forward chain.
//   - Sandbox to node: everything entering the host from the bridge is rejected
//     (TCP reset, ICMP admin-prohibited), on every host address including the
//     gateway, except packets of connections the host opened (a port proxy dials
//     sandbox IP:port from the host and gets its replies) and the optional
//     Config.HostPorts on the gateway address.
//   - Anti-spoofing: a bridge-family chain accepts from a sandbox port only IPv4
//     and ARP whose source address is the one that sandbox was given; IPv6 and
//     other protocols from sandbox ports are dropped.
//   - Egress: forwarded traffic out of non-bridge interfaces is accepted and
//     masqueraded only for sources in the "internet" set (sandboxes created with
//     AllowInternet). Other sandboxes get no forwarding at all. Even internet
//     sandboxes are refused (TCP reset, ICMP admin-prohibited) at the
//     "platform" set (SetPlatformAddrs: nodes, database), at
//     Config.DenyDestinations and at DefaultDenied unless Config.EgressAllow
//     lists the range; Config.Nameservers are reachable on port 53 only.
//
// The ruleset is installed once by New with nft(8); per sandbox only set
// elements are added and removed, over netlink, so Create and Destroy exec no
// process.
//
// # Egress rules
//
// A sandbox may carry its own rules (Options.Egress, SetEgress): allowed and
// denied IPv4 prefixes and resolved addresses of domain names (SetEgressHosts,
// kept current by a Resolver with the DNS answer's TTL as element timeout).
// They live in the node's inet table in the host namespace, keyed by the
// sandbox's address, and are checked after the platform set and before
// EgressAllow and DefaultDenied, so they only narrow what the operator allows;
// deny wins over allow and refusals are resets, as everywhere (rules.go).
// A recovered sandbox keeps its installed rules but not their Go copy.
//
// # Lifecycle
//
// A node calls New at start (bridge, sysctls, firewall; idempotent), then
// CleanupStale with the set of sandboxes it keeps: everything of its prefix that
// is not kept is removed and the kept sandboxes are recovered from the host (IP
// read from the netns, AllowInternet from the firewall set), so Lookup works and
// the allocator never hands out a kept address. Create and Destroy follow for each
// sandbox; Create returns once both veth ends are operationally up, since the
// kernel drops what is sent on a link before it activates it. Close releases the Manager and leaves bridge, rules and sandboxes in
// place; Teardown removes all of them (tests, operator uninstall).
//
// All methods are safe for concurrent use.
package netns
