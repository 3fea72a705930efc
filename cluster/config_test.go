package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func validConfig() Config {
	c := DefaultConfig()
	c.DataDir = "/tmp/x"
	c.ClusterKey = make([]byte, KeySize)
	c.GossipAddr = "127.0.0.1:0"
	c.RaftAddr = "127.0.0.1:0"
	return c
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"server", func(c *Config) { c.Server, c.BootstrapExpect = true, 3 }, ""},
		{"bad node id", func(c *Config) { c.NodeID = "sb-123" }, "node id"},
		{"short key", func(c *Config) { c.ClusterKey = []byte("short") }, "--cluster-key"},
		{"bad gossip addr", func(c *Config) { c.GossipAddr = "nohost" }, "--gossip-addr"},
		{"bad join", func(c *Config) { c.Join = []string{"x"} }, "--join"},
		{"expect on client", func(c *Config) { c.BootstrapExpect = 3 }, "--bootstrap-expect"},
		{"negative expect", func(c *Config) { c.Server, c.BootstrapExpect = true, -1 }, "--bootstrap-expect"},
		{"server without data dir", func(c *Config) { c.Server, c.DataDir = true, "" }, "data dir"},
		{"server wildcard raft", func(c *Config) { c.Server, c.RaftAddr = true, "0.0.0.0:7947" }, "--advertise"},
		{"long http addr", func(c *Config) { c.HTTPAddr = strings.Repeat("h", 65) }, "--http-addr"},
		{"long name", func(c *Config) { c.Name = strings.Repeat("n", 65) }, "node name"},
		{"zero probe", func(c *Config) { c.ProbeInterval = 0 }, "ProbeInterval"},
		{"slow broadcast", func(c *Config) { c.MetaBroadcastInterval = 6 * time.Second }, "MetaBroadcastInterval"},
		{"lease > heartbeat", func(c *Config) { c.RaftLeaderLeaseTimeout = 2 * time.Second }, "RaftLeaderLeaseTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	k1, k2 := GenerateKey(), GenerateKey()
	if k1 == k2 {
		t.Fatal("two generated keys are equal")
	}
	b, err := ParseKey(k1)
	if err != nil || len(b) != KeySize {
		t.Fatalf("ParseKey(%q) = %d bytes, %v", k1, len(b), err)
	}
	for _, bad := range []string{"", "not base64!", "c2hvcnQ="} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseKey(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}
