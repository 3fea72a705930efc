package netns

import (
	"fmt"
	"net/netip"
	"sync"
)

// allocator hands out the host addresses of a subnet other than the network,
// gateway (first) and broadcast addresses. It cycles through the range so a
// freed address is reused as late as possible (stale conntrack and ARP entries
// age out first).
type allocator struct {
	mu     sync.Mutex
	first  netip.Addr // first assignable address
	last   netip.Addr // last assignable address
	next   netip.Addr
	owners map[netip.Addr]string
}

func newAllocator(subnet netip.Prefix) *allocator {
	first := subnet.Addr().Next().Next() // network+2: network+1 is the gateway
	last := broadcast(subnet).Prev()
	return &allocator{first: first, last: last, next: first, owners: map[netip.Addr]string{}}
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// allocate reserves a free address for owner.
func (a *allocator) allocate(owner string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ip := a.next
	for {
		if _, used := a.owners[ip]; !used {
			a.owners[ip] = owner
			a.next = a.after(ip)
			return ip, nil
		}
		ip = a.after(ip)
		if ip == a.next {
			return netip.Addr{}, fmt.Errorf("netns: allocate address for %s: all %d addresses in use: %w", owner, len(a.owners), ErrUnavailable)
		}
	}
}

func (a *allocator) after(ip netip.Addr) netip.Addr {
	if ip == a.last {
		return a.first
	}
	return ip.Next()
}

// reserve marks ip as used by owner (recovery); it fails if ip is outside the
// range or taken by someone else.
func (a *allocator) reserve(ip netip.Addr, owner string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip.Less(a.first) || a.last.Less(ip) {
		return fmt.Errorf("netns: reserve %v for %s: outside %v-%v: %w", ip, owner, a.first, a.last, ErrInvalid)
	}
	if o, used := a.owners[ip]; used && o != owner {
		return fmt.Errorf("netns: reserve %v for %s: held by %s: %w", ip, owner, o, ErrExists)
	}
	a.owners[ip] = owner
	return nil
}

// release frees ip if owner holds it.
func (a *allocator) release(ip netip.Addr, owner string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.owners[ip] == owner {
		delete(a.owners, ip)
	}
}

func (a *allocator) inUse() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.owners)
}
