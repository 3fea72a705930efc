package id

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestRoundTrip(t *testing.T) {
	sb := NewSandboxID()
	if !strings.HasPrefix(sb.String(), "sb-") {
		t.Fatalf("wire form %q lacks sb- prefix", sb)
	}
	if uuid.UUID(sb).Version() != 7 {
		t.Fatalf("new IDs must be UUIDv7, got version %d", uuid.UUID(sb).Version())
	}
	back, err := ParseSandboxID(sb.String())
	if err != nil || back != sb {
		t.Fatalf("round trip: got %v, %v; want %v", back, err, sb)
	}
	for _, c := range []struct {
		s    string
		want string
	}{
		{NewUserID().String(), "usr-"},
		{NewTeamID().String(), "team-"},
		{NewTemplateID().String(), "tpl-"},
		{NewBuildID().String(), "bld-"},
		{NewNodeID().String(), "node-"},
		{NewAPIKeyID().String(), "key-"},
	} {
		if !strings.HasPrefix(c.s, c.want) {
			t.Errorf("%q lacks prefix %q", c.s, c.want)
		}
	}
}

func TestPlatformTeam(t *testing.T) {
	if got := PlatformTeamID.String(); got != "team-00000000-0000-0000-0000-000000000000" {
		t.Fatalf("PlatformTeamID = %s", got)
	}
	if !PlatformTeamID.IsZero() {
		t.Fatal("PlatformTeamID must be the nil UUID")
	}
}

func TestParseRejects(t *testing.T) {
	valid := NewTeamID().String()
	for _, s := range []string{
		"",
		"team-",
		"sb-" + strings.TrimPrefix(valid, "team-"), // wrong prefix
		"TEAM-" + strings.TrimPrefix(valid, "team-"),
		valid + "0",
		valid[:len(valid)-1],
		"team-zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
		"team-{" + strings.TrimPrefix(valid, "team-")[:34] + "}",
		"team-urn:uuid:" + strings.TrimPrefix(valid, "team-"),
		strings.TrimPrefix(valid, "team-"), // bare UUID
	} {
		_, err := ParseTeamID(s)
		if err == nil {
			t.Errorf("ParseTeamID(%q) accepted", s)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseTeamID(%q) error %v does not wrap ErrInvalid", s, err)
		}
		if !strings.Contains(err.Error(), "team id") {
			t.Errorf("error %q does not name the kind", err)
		}
	}
}

func TestJSON(t *testing.T) {
	type doc struct {
		ID TemplateID `json:"id"`
	}
	in := doc{ID: NewTemplateID()}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"tpl-`) {
		t.Fatalf("JSON %s lacks the wire form", b)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("JSON round trip: %v %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"id":"sb-`+uuid.NewString()+`"}`), &out); err == nil {
		t.Fatal("a sandbox ID was accepted as a template ID")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("sb-" + uuid.NewString())
	f.Add("tpl-00000000-0000-0000-0000-000000000000")
	f.Add("sb-")
	f.Add("key-\x00")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSandboxID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		// Anything accepted must round-trip to the exact same string.
		if v.String() != strings.ToLower(s) {
			t.Fatalf("accepted %q but formats as %q", s, v.String())
		}
	})
}
