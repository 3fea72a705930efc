package node

import (
	"slices"
	"strings"
	"testing"
)

func TestEgressAllowValidate(t *testing.T) {
	for _, bad := range []string{"10.0.0.0", "fd00::/8", "10.0.0.0/33", "nope"} {
		c := DefaultConfig()
		c.Dev, c.DataDir = true, t.TempDir()
		c.EgressAllow = []string{"10.1.0.0/16", bad}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--egress-allow") {
			t.Errorf("EgressAllow %q: Validate = %v, want an error naming --egress-allow", bad, err)
		}
	}
	got, err := parseEgressAllow([]string{"10.1.2.3/16", "169.254.169.254/32"})
	if err != nil || len(got) != 2 || got[0].String() != "10.1.0.0/16" || got[1].String() != "169.254.169.254/32" {
		t.Errorf("parseEgressAllow = %v, %v", got, err)
	}
}

func TestDatabaseHosts(t *testing.T) {
	for url, want := range map[string][]string{
		"postgres://u:p@db.example:5432/warren":        {"db.example"},
		"postgres://u@10.0.0.5/warren?sslmode=disable": {"10.0.0.5"},
		"postgresql://u@[2001:db8::5]:5432/x":          {"2001:db8::5"},
		"postgres://u@h1:5432,h2:5433/x":               {"h1", "h2"},
		"postgres:///warren?host=/var/run/postgresql":  nil,
		"": nil,
	} {
		if got := databaseHosts(url); !slices.Equal(got, want) {
			t.Errorf("databaseHosts(%q) = %v, want %v", url, got, want)
		}
	}
}
