package runc

import (
	"errors"
	"strings"
	"testing"
)

func idFiles(sub, subg, passwd, group string) IDFiles {
	p := func(n string) string { return "testdata/ids/" + n }
	return IDFiles{SubUID: p(sub), SubGID: p(subg), Passwd: p(passwd), Group: p(group), Owner: "warren"}
}

func TestCheckIDRanges(t *testing.T) {
	def := IDMap{HostID: DefaultIDBase, Size: DefaultIDMapSize}
	for _, c := range []struct {
		name     string
		uid, gid IDMap
		files    IDFiles
		want     []string // substrings of the error; none = no error
	}{
		{"clean, owner's own entry and nobody below the range", def, def,
			idFiles("subuid.clean", "subgid.clean", "passwd.clean", "group.clean"), nil},
		{"missing files count as empty", def, def, idFiles("none", "none", "none", "none"), nil},
		{"clean without an owner: warren's entry conflicts", def, def,
			IDFiles{SubUID: "testdata/ids/subuid.clean"},
			[]string{`sandbox host uid range 100000-165535 overlaps the subordinate uid range of "warren"`, "subuid.clean:3: warren:100000:65536"}},
		{"every clash named", def, def, idFiles("subuid.clash", "subgid.clash", "passwd.clash", "group.clash"),
			[]string{
				`uid range 100000-165535 overlaps the subordinate uid range of "alice" (testdata/ids/subuid.clash:1: alice:150000:65536)`,
				`gid range 100000-165535 overlaps the subordinate gid range of "bob"`,
				`uid range 100000-165535 holds uid 120000 of "build" (testdata/ids/passwd.clash:2)`,
				`gid range 100000-165535 holds gid 100500 of "docker" (testdata/ids/group.clash:2)`,
			}},
		{"adjacent ranges do not clash", IDMap{HostID: 100000, Size: 50000}, IDMap{HostID: 100000, Size: 65536},
			idFiles("subuid.clash", "none", "none", "none"), nil},
		{"range holding nobody clashes", IDMap{HostID: 60000, Size: 10000}, def,
			idFiles("none", "none", "passwd.clean", "none"), []string{`uid 65534 of "nobody"`}},
		{"malformed line", def, def, idFiles("subuid.bad", "none", "none", "none"),
			[]string{`testdata/ids/subuid.bad:1: "alice:100000" is not name:start:count`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckIDRanges(c.uid, c.gid, c.files)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("error %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if err := CheckIDRanges(IDMap{HostID: 1}, def, DefaultIDFiles()); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "uid map size") {
		t.Errorf("zero-size uid map: %v, want ErrInvalid naming the uid map", err)
	}
}
