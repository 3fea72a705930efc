package e2b_test

import (
	"context"
	"strings"
	"testing"

	"github.com/warrenhq/warren/e2b"
	"github.com/warrenhq/warren/id"
)

func TestConfigValidate(t *testing.T) {
	def := e2b.DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		name  string
		edit  func(*e2b.Config)
		field string
	}{
		{"version", func(c *e2b.Config) { c.EnvdVersion = "v1" }, "EnvdVersion"},
		{"empty version", func(c *e2b.Config) { c.EnvdVersion = "" }, "EnvdVersion"},
		{"body", func(c *e2b.Config) { c.MaxBodyBytes = 10 }, "MaxBodyBytes"},
		{"domain", func(c *e2b.Config) { c.Domain = "https://x.example" }, "Domain"},
	} {
		cfg := e2b.DefaultConfig()
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.field)
		}
	}
	auth := func(context.Context, string) (e2b.Caller, error) { return e2b.Caller{}, nil }
	token := func(id.SandboxID, int32) string { return "" }
	if _, err := e2b.New(def, nil, auth, token, func(string, e2b.Caller, string, id.SandboxID) {}, nil); err == nil {
		t.Error("New without Sandboxes succeeded")
	}
	if _, err := e2b.New(def, nil, auth, token, nil, nil); err == nil {
		t.Error("New without Audit succeeded")
	}
}
