package netns

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
)

// Errors returned by the Manager, wrapped with %w and the name concerned.
var (
	ErrNotFound    = errors.New("not found")
	ErrExists      = errors.New("already exists")
	ErrInvalid     = errors.New("invalid argument")
	ErrUnavailable = errors.New("unavailable")
)

// Config configures a Manager. Zero fields take the DefaultConfig values.
type Config struct {
	// Prefix names every host object of this manager; 1-6 characters, a
	// lowercase letter then lowercase letters or digits, unique on the host.
	Prefix string
	// Bridge is the bridge interface name (default "warren0").
	Bridge string
	// Subnet is the sandbox subnet (default 10.88.0.0/16, at most /29); the
	// gateway, on the bridge, is its first address.
	Subnet netip.Prefix
	// MTU of the bridge and veths (default 1500).
	MTU int
	// HostPorts are TCP and UDP ports on the gateway address that sandboxes may
	// reach (e.g. a DNS forwarder); empty by default: the node is unreachable.
	HostPorts []uint16
	// DenyDestinations are IPv4 prefixes that even internet-enabled sandboxes
	// must not reach through the node, on top of DefaultDenied; they win over
	// EgressAllow.
	DenyDestinations []netip.Prefix
	// EgressAllow are IPv4 prefixes inside DefaultDenied that internet-enabled
	// sandboxes may reach after all (an operator's --egress-allow). Platform
	// addresses (SetPlatformAddrs) stay refused even inside them.
	EgressAllow []netip.Prefix
	// Nameservers are the resolvers internet-enabled sandboxes use: they are
	// reachable on port 53 (UDP and TCP) even inside a denied range, and on no
	// other port.
	Nameservers []netip.Addr
	// NetNSDir holds the netns bind mounts (default "/run/netns", shared with
	// ip-netns(8)).
	NetNSDir string
	// Logger receives lifecycle messages (default slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults; Prefix must still be set.
func DefaultConfig() Config {
	return Config{
		Bridge:   "warren0",
		Subnet:   netip.MustParsePrefix("10.88.0.0/16"),
		MTU:      1500,
		NetNSDir: "/run/netns",
		Logger:   slog.Default(),
	}
}

var (
	prefixRe = regexp.MustCompile(`^[a-z][a-z0-9]{0,5}$`)
	ifnameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
)

func (c *Config) withDefaults() {
	d := DefaultConfig()
	if c.Bridge == "" {
		c.Bridge = d.Bridge
	}
	if !c.Subnet.IsValid() {
		c.Subnet = d.Subnet
	}
	if c.MTU == 0 {
		c.MTU = d.MTU
	}
	if c.NetNSDir == "" {
		c.NetNSDir = d.NetNSDir
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
}

// Validate checks a Config after defaults were applied.
func (c Config) Validate() error {
	if !prefixRe.MatchString(c.Prefix) {
		return fmt.Errorf("netns: config Prefix %q: want 1-6 characters [a-z][a-z0-9]*: %w", c.Prefix, ErrInvalid)
	}
	if !ifnameRe.MatchString(c.Bridge) {
		return fmt.Errorf("netns: config Bridge %q: want an interface name of 1-15 characters [A-Za-z0-9_.-]: %w", c.Bridge, ErrInvalid)
	}
	if len(c.Bridge) > len(c.Prefix) && c.Bridge[:len(c.Prefix)+1] == c.Prefix+"-" {
		return fmt.Errorf("netns: config Bridge %q must not start with %q (reserved for veths): %w", c.Bridge, c.Prefix+"-", ErrInvalid)
	}
	if !c.Subnet.IsValid() || !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 29 || c.Subnet.Bits() < 8 {
		return fmt.Errorf("netns: config Subnet %v: want an IPv4 prefix between /8 and /29: %w", c.Subnet, ErrInvalid)
	}
	if c.Subnet.Masked() != c.Subnet {
		return fmt.Errorf("netns: config Subnet %v has host bits set (want %v): %w", c.Subnet, c.Subnet.Masked(), ErrInvalid)
	}
	if c.MTU < 576 || c.MTU > 65535 {
		return fmt.Errorf("netns: config MTU %d: want 576-65535: %w", c.MTU, ErrInvalid)
	}
	for _, p := range c.HostPorts {
		if p == 0 {
			return fmt.Errorf("netns: config HostPorts: port 0: %w", ErrInvalid)
		}
	}
	for _, p := range c.DenyDestinations {
		if !p.IsValid() || !p.Addr().Is4() {
			return fmt.Errorf("netns: config DenyDestinations %v: want IPv4 prefixes: %w", p, ErrInvalid)
		}
	}
	for _, p := range c.EgressAllow {
		if !p.IsValid() || !p.Addr().Is4() {
			return fmt.Errorf("netns: config EgressAllow %v: want IPv4 prefixes: %w", p, ErrInvalid)
		}
	}
	for _, a := range c.Nameservers {
		if !a.Is4() {
			return fmt.Errorf("netns: config Nameservers %v: want IPv4 addresses: %w", a, ErrInvalid)
		}
	}
	if c.NetNSDir == "" || c.NetNSDir[0] != '/' {
		return fmt.Errorf("netns: config NetNSDir %q: want an absolute path: %w", c.NetNSDir, ErrInvalid)
	}
	return nil
}
