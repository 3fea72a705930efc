package cluster

import (
	"math"
	"strings"
	"testing"
)

// The largest meta a validated Config can produce must fit memberlist's limit.
func TestMetaLargestFits(t *testing.T) {
	addr := "[" + strings.Repeat("f", 39) + "]:65535" // full IPv6 literal: 47 bytes
	long := addr + strings.Repeat("x", maxAddrLen-len(addr))
	m := Meta{
		ID:       "node-" + strings.Repeat("a", 36),
		Name:     strings.Repeat("n", maxNameLen),
		Role:     RoleServer,
		RaftAddr: long, HTTPAddr: long, GRPCAddr: long,
		Version: strings.Repeat("v", maxVersionLen),
		Capacity: Capacity{FreeMilliCPU: math.MaxUint64, FreeMemoryMB: math.MaxUint64, FreeDiskBytes: math.MaxUint64,
			RunningSandboxes: math.MaxUint32, MaxSandboxes: math.MaxUint32},
		Drain: true, Leaving: true, Boot: math.MaxUint64, BootstrapExpect: 7, RaftMember: true,
		LeaderID: "node-" + strings.Repeat("b", 36), Term: math.MaxUint64,
	}
	b, err := EncodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("largest meta: %d bytes (limit %d)", len(b), MetaMaxSize)
	if len(b) > MetaMaxSize {
		t.Fatalf("meta is %d bytes", len(b))
	}
	got, err := DecodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != m {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
	}
}

func TestMetaRoundTripClient(t *testing.T) {
	m := Meta{ID: "node-x", Role: RoleClient, HTTPAddr: "127.0.0.1:8080", Capacity: Capacity{FreeMilliCPU: 1500, MaxSandboxes: 10}}
	b, err := EncodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMeta(b)
	if err != nil || got != m {
		t.Fatalf("DecodeMeta = %+v, %v; want %+v", got, err, m)
	}
}

func TestMetaDecodeRejectsGarbage(t *testing.T) {
	good, _ := EncodeMeta(Meta{ID: "node-x", Name: "a"})
	for name, b := range map[string][]byte{
		"empty": nil, "version": {9, 0}, "truncated": good[:len(good)-3], "huge length": {1, 0, 0xff, 0x7f},
	} {
		if _, err := DecodeMeta(b); err == nil {
			t.Errorf("%s: DecodeMeta succeeded", name)
		}
	}
}

// Meta from a node that predates Boot (one uvarint shorter) still decodes.
func TestMetaDecodesWithoutBoot(t *testing.T) {
	m := Meta{ID: "node-x", Name: "a", Role: RoleClient, Capacity: Capacity{FreeBuildSlots: 2}}
	b, err := EncodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMeta(b[:len(b)-1]) // Boot 0 is one byte
	if err != nil || got != m {
		t.Fatalf("DecodeMeta = %+v, %v; want %+v", got, err, m)
	}
}
