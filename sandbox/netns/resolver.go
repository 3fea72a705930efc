package netns

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Resolver keeps the host sets of sandboxes' domain rules current: it asks
// one DNS server the node trusts (never the sandbox) for each name's A
// records, puts the addresses in the sandbox's set with the answer's TTL as
// their timeout, and asks again just before the shortest TTL runs out.
type Resolver struct {
	server string // host:port
	sets   HostSetter
	log    *slog.Logger

	mu      sync.Mutex
	watches map[string]context.CancelFunc
	wg      sync.WaitGroup
}

// HostSetter receives resolved addresses; *Manager is one.
type HostSetter interface {
	SetEgressHosts(id string, deny bool, hosts []HostAddr) error
}

// Resolution bounds: a failed or empty lookup is retried after retryAfter;
// TTLs are clamped to [minTTL, maxTTL].
const (
	queryTimeout = 2 * time.Second
	retryAfter   = 5 * time.Second
	minTTL       = time.Second
	maxTTL       = time.Hour
)

// NewResolver returns a Resolver asking server (an IPv4 "host:port"; port 53
// when none is given).
func NewResolver(server string, sets HostSetter, log *slog.Logger) (*Resolver, error) {
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	ap, err := netip.ParseAddrPort(server)
	if err != nil {
		return nil, fmt.Errorf("netns: egress resolver %q: want an IP address and optional port: %w", server, ErrInvalid)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Resolver{server: ap.String(), sets: sets, log: log.With("component", "egress-resolver"), watches: map[string]context.CancelFunc{}}, nil
}

// Watch starts (or replaces) the resolution of a sandbox's allowed and
// denied names. The first round runs before Watch returns, so the rules hold
// when the sandbox starts; its error (the names stay unresolved and are
// retried) is returned for the log.
func (r *Resolver) Watch(id string, allow, deny []string) error {
	r.Stop(id)
	if len(allow) == 0 && len(deny) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.watches[id] = cancel
	r.mu.Unlock()
	next, err := r.round(ctx, id, allow, deny)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(next):
			}
			var err error
			if next, err = r.round(ctx, id, allow, deny); err != nil && ctx.Err() == nil {
				r.log.Warn("egress names not resolved", "sandbox", id, "err", err)
			}
		}
	}()
	return err
}

// Stop ends the resolution for a sandbox (its elements expire or go with
// its sets).
func (r *Resolver) Stop(id string) {
	r.mu.Lock()
	cancel := r.watches[id]
	delete(r.watches, id)
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Close stops every watch and waits for the goroutines.
func (r *Resolver) Close() {
	r.mu.Lock()
	for id, c := range r.watches {
		c()
		delete(r.watches, id)
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// round resolves all names of one sandbox, replaces both host sets, and
// returns when to run again: shortly before the shortest TTL ends.
func (r *Resolver) round(ctx context.Context, id string, allow, deny []string) (time.Duration, error) {
	next := maxTTL
	var errs []error
	for _, side := range []struct {
		deny  bool
		names []string
	}{{false, allow}, {true, deny}} {
		if len(side.names) == 0 {
			continue
		}
		var hosts []HostAddr
		for _, n := range side.names {
			got, err := r.Lookup(ctx, n)
			if err != nil || len(got) == 0 {
				if err == nil {
					err = fmt.Errorf("%s: no A records", n)
				}
				errs = append(errs, err)
				next = min(next, retryAfter)
			}
			for _, h := range got {
				next = min(next, h.TTL-min(h.TTL/10, time.Second))
			}
			hosts = append(hosts, got...)
		}
		if ctx.Err() != nil {
			return next, ctx.Err()
		}
		if err := r.sets.SetEgressHosts(id, side.deny, hosts); err != nil {
			errs = append(errs, err)
		}
	}
	return max(next, minTTL/2), errors.Join(errs...)
}

// Lookup asks the server for name's A records over UDP; TTLs are clamped.
func (r *Resolver) Lookup(ctx context.Context, name string) ([]HostAddr, error) {
	qn, err := dnsmessage.NewName(name + ".")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var idb [2]byte
	rand.Read(idb[:])
	qid := binary.BigEndian.Uint16(idb[:])
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: qid, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: qn, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	q, err := msg.Pack()
	if err != nil {
		return nil, fmt.Errorf("%s: pack query: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", r.server)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetDeadline(dl)
	if _, err := c.Write(q); err != nil {
		return nil, fmt.Errorf("%s: send query to %s: %w", name, r.server, err)
	}
	buf := make([]byte, 1500)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("%s: read answer from %s: %w", name, r.server, err)
		}
		var resp dnsmessage.Message
		if err := resp.Unpack(buf[:n]); err != nil || resp.ID != qid || !resp.Response {
			continue // not our answer
		}
		if resp.RCode != dnsmessage.RCodeSuccess {
			return nil, fmt.Errorf("%s: %s answered %v", name, r.server, resp.RCode)
		}
		var out []HostAddr
		for _, a := range resp.Answers {
			if ar, ok := a.Body.(*dnsmessage.AResource); ok {
				ttl := min(max(time.Duration(a.Header.TTL)*time.Second, minTTL), maxTTL)
				out = append(out, HostAddr{Addr: netip.AddrFrom4(ar.A), TTL: ttl})
			}
		}
		return out, nil
	}
}
