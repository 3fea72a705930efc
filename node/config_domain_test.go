package node

import (
	"strings"
	"testing"
)

func TestSandboxDomainValidate(t *testing.T) {
	for in, want := range map[string]string{"localhost": "localhost", "Sandboxes.Example.COM.": "sandboxes.example.com", "a-1.b2": "a-1.b2"} {
		c := DefaultConfig()
		c.Dev, c.DataDir = true, t.TempDir()
		c.SandboxDomain = in
		if err := c.Validate(); err != nil || c.SandboxDomain != want {
			t.Errorf("--sandbox-domain %q: %v, %q; want %q", in, err, c.SandboxDomain, want)
		}
	}
	for _, bad := range []string{"", ".", "a..b", "-a.b", "a-.b", "under_score.test", "127.0.0.1", "::1", "a b", "x.*.test", strings.Repeat("a", 64) + ".test", strings.Repeat("ab.", 80)} {
		c := DefaultConfig()
		c.Dev, c.DataDir = true, t.TempDir()
		c.SandboxDomain = bad
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--sandbox-domain") {
			t.Errorf("--sandbox-domain %q: Validate = %v, want an error naming --sandbox-domain", bad, err)
		}
	}
}
