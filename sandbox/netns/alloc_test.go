package netns

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func TestAllocatorConcurrent(t *testing.T) {
	a := newAllocator(netip.MustParsePrefix("10.213.0.0/24"))
	const n = 100
	got := make([]netip.Addr, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ip, err := a.allocate(fmt.Sprint(i))
			if err != nil {
				t.Errorf("allocate %d: %v", i, err)
			}
			got[i] = ip
		})
	}
	wg.Wait()
	seen := map[netip.Addr]bool{}
	for _, ip := range got {
		if seen[ip] {
			t.Errorf("%v handed out twice", ip)
		}
		seen[ip] = true
		if ip.Compare(netip.MustParseAddr("10.213.0.2")) < 0 || ip.Compare(netip.MustParseAddr("10.213.0.254")) > 0 {
			t.Errorf("%v outside the assignable range", ip)
		}
	}
	// Concurrent release and allocate never hand out a held address.
	fresh := make([]netip.Addr, n)
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				a.release(got[i], fmt.Sprint(i))
				return
			}
			ip, err := a.allocate(fmt.Sprint("b", i))
			if err != nil {
				t.Errorf("allocate b%d: %v", i, err)
			}
			fresh[i] = ip
		})
	}
	wg.Wait()
	held := map[netip.Addr]string{}
	for i := 1; i < n; i += 2 {
		for who, ip := range map[string]netip.Addr{fmt.Sprint(i): got[i], fmt.Sprint("b", i): fresh[i]} {
			if other, dup := held[ip]; dup {
				t.Errorf("%v held by both %s and %s", ip, other, who)
			}
			held[ip] = who
		}
	}
	if a.inUse() != n {
		t.Errorf("%d addresses in use, want %d", a.inUse(), n)
	}
}

func TestAllocatorExhaustionAndReserve(t *testing.T) {
	a := newAllocator(netip.MustParsePrefix("10.213.0.0/29")) // .2 - .6
	if err := a.reserve(netip.MustParseAddr("10.213.0.4"), "kept"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range 4 {
		ip, err := a.allocate(fmt.Sprint(i))
		if err != nil {
			t.Fatalf("allocate %d: %v", i, err)
		}
		got = append(got, ip.String())
	}
	if fmt.Sprint(got) != "[10.213.0.2 10.213.0.3 10.213.0.5 10.213.0.6]" {
		t.Errorf("allocated %v", got)
	}
	if _, err := a.allocate("x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("allocate from a full range: %v, want ErrUnavailable", err)
	}
	a.release(netip.MustParseAddr("10.213.0.3"), "not-the-owner")
	if _, err := a.allocate("x"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("release by a non-owner freed the address: %v", err)
	}
	a.release(netip.MustParseAddr("10.213.0.3"), "1")
	if ip, err := a.allocate("x"); err != nil || ip.String() != "10.213.0.3" {
		t.Errorf("allocate after release: %v, %v", ip, err)
	}
	for _, tc := range []struct {
		ip   string
		want error
	}{{"10.213.0.1", ErrInvalid}, {"10.213.0.7", ErrInvalid}, {"10.213.1.2", ErrInvalid}, {"10.213.0.5", ErrExists}} {
		if err := a.reserve(netip.MustParseAddr(tc.ip), "y"); !errors.Is(err, tc.want) {
			t.Errorf("reserve %s: %v, want %v", tc.ip, err, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := func() Config {
		c := Config{Prefix: "wr1a2b"}
		c.withDefaults()
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"empty prefix":       func(c *Config) { c.Prefix = "" },
		"long prefix":        func(c *Config) { c.Prefix = "wr1a2b3" },
		"prefix with dash":   func(c *Config) { c.Prefix = "wr-1" },
		"prefix digit first": func(c *Config) { c.Prefix = "1wr" },
		"long bridge":        func(c *Config) { c.Bridge = "warren0123456789" },
		"bridge like a veth": func(c *Config) { c.Bridge = "wr1a2b-br" },
		"ipv6 subnet":        func(c *Config) { c.Subnet = netip.MustParsePrefix("fd00::/64") },
		"subnet too small":   func(c *Config) { c.Subnet = netip.MustParsePrefix("10.0.0.0/30") },
		"subnet host bits":   func(c *Config) { c.Subnet = netip.MustParsePrefix("10.88.0.1/16") },
		"mtu":                func(c *Config) { c.MTU = 100 },
		"host port 0":        func(c *Config) { c.HostPorts = []uint16{53, 0} },
		"ipv6 deny":          func(c *Config) { c.DenyDestinations = []netip.Prefix{netip.MustParsePrefix("fd00::/8")} },
		"relative netns dir": func(c *Config) { c.NetNSDir = "run/netns" },
	} {
		c := good()
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want ErrInvalid", name, err)
		}
	}
}
