package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/warrenhq/warren/sandbox/netns"
)

// Egress are a sandbox's own outbound rules as the team gave them: IPv4
// addresses, CIDR prefixes and domain names (see netns.ParseEgressList).
// Deny wins over allow. A non-empty Allow refuses everything it does not
// list; an empty one leaves the node's default (Config.EgressDefaultDeny).
type Egress struct {
	Allow, Deny []string
}

// ParseEgress validates e; errors are *FieldError naming the list and index
// ("allow_out[2]").
func ParseEgress(e Egress) (allow, deny netns.EgressList, err error) {
	if allow, err = netns.ParseEgressList("allow_out", e.Allow); err != nil {
		return allow, deny, egressFieldError(err)
	}
	if deny, err = netns.ParseEgressList("deny_out", e.Deny); err != nil {
		return allow, deny, egressFieldError(err)
	}
	return allow, deny, nil
}

func egressFieldError(err error) error {
	var le *netns.ListError
	if errors.As(err, &le) {
		return Fieldf(le.Field, "%s", le.Message)
	}
	return err
}

// egressRules turns a sandbox's lists into its netns rules; nil when the
// node-wide rules are all it needs.
func (m *Manager) egressRules(internet bool, e Egress) (*netns.EgressRules, netns.EgressList, netns.EgressList, error) {
	allow, deny, err := ParseEgress(e)
	if err != nil || !internet {
		return nil, allow, deny, err
	}
	if len(e.Allow) == 0 && len(e.Deny) == 0 && !m.cfg.EgressDefaultDeny {
		return nil, allow, deny, nil
	}
	return &netns.EgressRules{
		DefaultDeny: m.cfg.EgressDefaultDeny || len(e.Allow) > 0,
		Allow:       allow.Nets, Deny: deny.Nets,
	}, allow, deny, nil
}

// watchNames starts resolving a sandbox's domain rules (a no-op without a
// resolver or names); a failed first round is logged, the names are retried.
func (m *Manager) watchNames(id string, allow, deny netns.EgressList) {
	if m.resolver == nil {
		return
	}
	if err := m.resolver.Watch(id, allow.Hosts, deny.Hosts); err != nil {
		m.log.Warn("egress domain names not resolved yet", "sandbox", id, "err", err)
	}
}

// SetEgress replaces the outbound rules of a running sandbox.
func (m *Manager) SetEgress(ctx context.Context, id string, internet bool, e Egress) error {
	b, err := m.get(id)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return fmt.Errorf("sandbox %s: %w", id, ErrNotFound)
	}
	rules, allow, deny, err := m.egressRules(internet, e)
	if err != nil {
		return err
	}
	if m.resolver != nil {
		m.resolver.Stop(id)
	}
	if err := m.net.SetEgress(ctx, id, rules); err != nil {
		return fmt.Errorf("sandbox %s: egress rules: %w", id, err)
	}
	if rules != nil {
		m.watchNames(id, allow, deny)
	}
	return nil
}
