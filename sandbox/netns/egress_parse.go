package netns

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// MaxEgressEntries bounds each of a sandbox's allow and deny lists.
const MaxEgressEntries = 64

// EgressList is one parsed allow or deny list: IPv4 prefixes and domain names.
type EgressList struct {
	Nets  []netip.Prefix
	Hosts []string
}

// ListError is a bad egress list entry; it wraps ErrInvalid.
type ListError struct {
	Field   string // e.g. "allow_out[2]" or "deny_out"
	Message string
}

func (e *ListError) Error() string { return e.Field + ": " + e.Message }

// Unwrap makes a ListError an ErrInvalid.
func (e *ListError) Unwrap() error { return ErrInvalid }

var labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ParseEgressList parses the entries of the list field (e.g. "allow_out"):
// each an IPv4 address, an IPv4 prefix or a domain name (lower case, at
// least two labels, no wildcard). Errors name the field and the index, as
// "allow_out[2]: ...", and wrap ErrInvalid.
func ParseEgressList(field string, entries []string) (EgressList, error) {
	var l EgressList
	if len(entries) > MaxEgressEntries {
		return l, &ListError{field, fmt.Sprintf("%d entries, at most %d", len(entries), MaxEgressEntries)}
	}
	for i, e := range entries {
		bad := func(why string) error {
			return &ListError{fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q: %s", trunc(e), why)}
		}
		switch {
		case e == "":
			return l, bad("empty")
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return l, bad("not a CIDR prefix")
			}
			if !p.Addr().Is4() {
				return l, bad("IPv6 is not supported (sandboxes have no IPv6)")
			}
			if p.Masked() != p {
				return l, bad(fmt.Sprintf("host bits set (want %v)", p.Masked()))
			}
			l.Nets = append(l.Nets, p)
		case strings.Contains(e, ":"):
			return l, bad("IPv6 is not supported (sandboxes have no IPv6)")
		default:
			if a, err := netip.ParseAddr(e); err == nil {
				l.Nets = append(l.Nets, netip.PrefixFrom(a, 32))
				continue
			}
			if err := checkDomain(e); err != nil {
				return l, bad(err.Error())
			}
			l.Hosts = append(l.Hosts, strings.TrimSuffix(e, "."))
		}
	}
	return l, nil
}

func checkDomain(d string) error {
	d = strings.TrimSuffix(d, ".")
	if len(d) > 253 {
		return fmt.Errorf("domain name longer than 253 characters")
	}
	if strings.Contains(d, "*") {
		return fmt.Errorf("wildcards are not supported")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("not an IPv4 address, prefix or domain name with a dot")
	}
	for _, lb := range labels {
		if !labelRe.MatchString(lb) {
			return fmt.Errorf("label %q: want lower-case letters, digits and inner hyphens, 1-63 characters", lb)
		}
	}
	if _, err := netip.ParseAddr(d); err == nil || labelRe.MatchString(labels[len(labels)-1]) && strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return fmt.Errorf("not an IPv4 address, prefix or domain name (numeric top-level label)")
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
