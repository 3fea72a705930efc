package netns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// idRe bounds sandbox IDs: they become file names under NetNSDir.
var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func validateID(id string) error {
	if !idRe.MatchString(id) {
		return fmt.Errorf("netns: sandbox id %q: want 1-128 characters [A-Za-z0-9_.-], not starting with a symbol: %w", id, ErrInvalid)
	}
	return nil
}

// nsName is the netns name (file name under NetNSDir, usable with ip netns).
func (m *Manager) nsName(id string) string { return m.cfg.Prefix + "-" + id }

func (m *Manager) nsPath(id string) string { return filepath.Join(m.cfg.NetNSDir, m.nsName(id)) }

// idFromNSName returns the sandbox id of a netns file name of this manager.
func (m *Manager) idFromNSName(name string) (string, bool) {
	id, ok := strings.CutPrefix(name, m.cfg.Prefix+"-")
	if !ok || validateID(id) != nil {
		return "", false
	}
	return id, true
}

// vethName is the host end's name; see VethName.
func (m *Manager) vethName(id string) string { return VethName(m.cfg.Prefix, id) }

// VethName is the host end of the veth of sandbox id under a manager with
// prefix: <prefix>-<hex of sha256(id)>, 15 characters (the kernel's limit).
func VethName(prefix, id string) string {
	sum := sha256.Sum256([]byte(id))
	return prefix + "-" + hex.EncodeToString(sum[:])[:15-len(prefix)-1]
}

func (m *Manager) isOurVeth(name string) bool {
	return strings.HasPrefix(name, m.cfg.Prefix+"-")
}
