package dm

import (
	"strings"
	"testing"
)

func TestDeviceNames(t *testing.T) {
	p := &Pool{prefix: "node1"}
	if got := p.devName("sb-1"); got != "node1-sb-1" {
		t.Errorf("devName(sb-1) = %q", got)
	}
	if got := p.extName("sb-1"); got != "node1-sb-1@ext" {
		t.Errorf("extName(sb-1) = %q", got)
	}
	long := &Pool{prefix: strings.Repeat("p", 32)}
	a, b := strings.Repeat("a", 127)+"x", strings.Repeat("a", 127)+"y"
	for _, n := range []string{a, b} {
		for _, dm := range []string{long.devName(n), long.extName(n)} {
			if err := checkDMName(dm); err != nil {
				t.Errorf("name for %d-byte snapshot name: %v", len(n), err)
			}
			if !strings.HasPrefix(dm, long.prefix+"-aaa") {
				t.Errorf("%q does not start with <prefix>-<name head>", dm)
			}
		}
	}
	if long.devName(a) == long.devName(b) {
		t.Errorf("two long names map to one device %q", long.devName(a))
	}
}
