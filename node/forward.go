package node

import (
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/warrenhq/warren/api"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
)

// forwarder sends a sandbox-scoped REST request to the node that runs the
// sandbox: the owner's own REST endpoint serves it (re-authenticating the same
// credentials against the shared database), and streams — exec output, file
// transfers, the ports proxy and WebSocket upgrades — pass through as they are.
type forwarder struct{ cn *clusterNode }

var _ api.Forwarder = forwarder{}

func (f forwarder) Local(owner id.NodeID) bool { return owner == f.cn.n.ID }

func (f forwarder) Forward(w http.ResponseWriter, r *http.Request, owner id.NodeID) error {
	m, err := f.cn.member(owner)
	if err != nil || m.HTTPAddr == "" {
		return &sandbox.UnavailableError{Message: "the node running this sandbox is not reachable right now; retry shortly"}
	}
	target := &url.URL{Scheme: "http", Host: m.HTTPAddr}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = r.Host
			pr.Out.Header.Set(api.ForwardedHeader, f.cn.n.ID.String())
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.cn.n.log.Warn("forwarding to the owner node failed", "owner", owner, "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"the node running this sandbox did not answer; retry shortly"},"request_id":"` + api.RequestID(r.Context()) + `"}` + "\n"))
		},
	}
	rp.ServeHTTP(w, r)
	return nil
}
