package api

import (
	"encoding/json"
	"net/http"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
)

// egressRequest replaces a running sandbox's outbound rules: IPv4
// addresses, CIDR prefixes and domain names; deny wins over allow.
type egressRequest struct {
	AllowOut []string `json:"allow_out"`
	DenyOut  []string `json:"deny_out"`
}

func (s *Server) setEgress(w http.ResponseWriter, r *http.Request) {
	sb, err := pathID(r, "id", id.ParseSandboxID)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	var req egressRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	row, err := s.sandboxes.SetEgress(r.Context(), principalFrom(r.Context()).TeamID, sb, sandbox.Egress{Allow: req.AllowOut, Deny: req.DenyOut})
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	details, _ := json.Marshal(map[string][]string{"allow_out": row.AllowOut, "deny_out": row.DenyOut})
	s.audit(r, "sandbox.egress", "sandbox", sb.String(), details)
	writeJSON(w, http.StatusOK, viewSandbox(row))
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
