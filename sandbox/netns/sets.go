package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// Per-sandbox firewall state is two set elements, changed over netlink without
// exec: (veth, ip) in the bridge table's "ports" set (anti-spoofing) and, for
// AllowInternet, ip in the inet table's "internet" set.

const ifNameSize = 16

func (m *Manager) portsSet() *nftables.Set {
	return &nftables.Set{
		Table:         &nftables.Table{Name: m.tableName(), Family: nftables.TableFamilyBridge},
		Name:          "ports",
		KeyType:       nftables.MustConcatSetType(nftables.TypeIFName, nftables.TypeIPAddr),
		Concatenation: true,
	}
}

func (m *Manager) internetSet() *nftables.Set {
	return &nftables.Set{
		Table:   &nftables.Table{Name: m.tableName(), Family: nftables.TableFamilyINet},
		Name:    "internet",
		KeyType: nftables.TypeIPAddr,
	}
}

func portKey(veth string, ip netip.Addr) []byte {
	k := make([]byte, ifNameSize, ifNameSize+4)
	copy(k, veth)
	a := ip.As4()
	return append(k, a[:]...)
}

func parsePortKey(k []byte) (string, netip.Addr, bool) {
	if len(k) != ifNameSize+4 {
		return "", netip.Addr{}, false
	}
	name := string(bytes.TrimRight(k[:ifNameSize], "\x00"))
	return name, netip.AddrFrom4([4]byte(k[ifNameSize:])), true
}

// elems lists the firewall elements of one sandbox.
func (m *Manager) elems(veth string, ip netip.Addr, internet bool) []setElems {
	e := []setElems{{m.portsSet(), []nftables.SetElement{{Key: portKey(veth, ip)}}}}
	if internet {
		e = append(e, m.internetElems(ip))
	}
	return e
}

func (m *Manager) internetElems(ip netip.Addr) setElems {
	a := ip.As4()
	return setElems{m.internetSet(), []nftables.SetElement{{Key: a[:]}}}
}

type setElems struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// addElems adds all elements in one transaction.
func addElems(all []setElems) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables connection: %w", err)
	}
	for _, e := range all {
		if err := c.SetAddElements(e.set, e.elems); err != nil {
			return fmt.Errorf("add to set %s: %w", e.set.Name, err)
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("add set elements: %w", err)
	}
	return nil
}

// delElems deletes elements, ignoring those (and sets) that do not exist. It
// tries one transaction first (a commit costs a few milliseconds), then
// element by element when some element is missing.
func delElems(all []setElems) error {
	if len(all) == 0 {
		return nil
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables connection: %w", err)
	}
	for _, e := range all {
		if err := c.SetDeleteElements(e.set, e.elems); err != nil {
			return fmt.Errorf("delete from set %s: %w", e.set.Name, err)
		}
	}
	if err := c.Flush(); err == nil {
		return nil
	}
	var errs []error
	for _, e := range all {
		for _, el := range e.elems {
			if err := c.SetDeleteElements(e.set, []nftables.SetElement{el}); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("delete from set %s: %w", e.set.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// listElems returns the (veth, ip) pairs of the ports set and the IPs of the
// internet set; none when the tables do not exist.
func (m *Manager) listElems() (map[string]netip.Addr, map[netip.Addr]bool, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, nil, fmt.Errorf("nftables connection: %w", err)
	}
	ports := map[string]netip.Addr{}
	internet := map[netip.Addr]bool{}
	// google/nftables loses errno wrapping: look for the tables first.
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyBridge, nftables.TableFamilyINet} {
		tables, err := c.ListTablesOfFamily(fam)
		if err != nil {
			return nil, nil, fmt.Errorf("list nftables tables: %w", err)
		}
		if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == m.tableName() }) {
			return ports, internet, nil // not installed (yet, or torn down): no elements
		}
	}
	ps, err := c.GetSetElements(m.portsSet())
	if err != nil {
		return nil, nil, fmt.Errorf("list set %s ports: %w", m.tableName(), err)
	}
	for _, e := range ps {
		if veth, ip, ok := parsePortKey(e.Key); ok {
			ports[veth] = ip
		}
	}
	is, err := c.GetSetElements(m.internetSet())
	if err != nil {
		return nil, nil, fmt.Errorf("list set %s internet: %w", m.tableName(), err)
	}
	for _, e := range is {
		if ip, ok := netip.AddrFromSlice(e.Key); ok {
			internet[ip] = true
		}
	}
	return ports, internet, nil
}
