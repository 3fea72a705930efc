package node

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/warrenhq/warren/id"
)

// loadNodeID returns the node ID persisted in dataDir/node-id, creating it on
// first start.
func loadNodeID(dataDir string) (id.NodeID, error) {
	p := filepath.Join(dataDir, "node-id")
	b, err := os.ReadFile(p)
	if err == nil {
		nid, err := id.ParseNodeID(strings.TrimSpace(string(b)))
		if err != nil {
			return nid, fmt.Errorf("%s: %w", p, err)
		}
		return nid, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return id.NodeID{}, err
	}
	nid := id.NewNodeID()
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(nid.String()+"\n"), 0o644); err != nil {
		return nid, err
	}
	return nid, os.Rename(tmp, p)
}

// HostPrefix is a node's short, host-unique prefix for host objects (loop
// backing files, dm names, netns, veths, cgroups): "w" and 5 hex digits of the
// ID's random tail.
func HostPrefix(nid id.NodeID) string {
	u := nid.UUID()
	return fmt.Sprintf("w%02x%02x%x", u[13], u[14], u[15]>>4)
}
