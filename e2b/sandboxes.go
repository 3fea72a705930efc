package e2b

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
	"github.com/warrenhq/warren/store/db"
)

// liveSandbox returns the team's live sandbox named in the path: a
// malformed ID, another team's sandbox and an ended one are all not found,
// as on E2B.
func (h *Handler) liveSandbox(r *http.Request) (db.Sandbox, error) {
	raw := chi.URLParam(r, "sandboxID")
	sb, err := id.ParseSandboxID(raw)
	if err != nil {
		return db.Sandbox{}, notFound(raw)
	}
	row, err := h.sandboxes.Get(r.Context(), teamFrom(r.Context()), sb)
	if err != nil {
		return row, mapError(err, raw)
	}
	if !live(row) {
		return row, notFound(raw)
	}
	return row, nil
}

// get serves GET /sandboxes/{sandboxID}.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	row, err := h.liveSandbox(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h.viewDetail(row))
}

// kill serves DELETE /sandboxes/{sandboxID}: 204, or 404 when there is no
// live sandbox (the SDK's kill then answers false).
func (h *Handler) kill(w http.ResponseWriter, r *http.Request) {
	row, err := h.liveSandbox(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, err := h.sandboxes.Kill(r.Context(), row.TeamID, row.ID); err != nil {
		// It ended between the two calls: gone, as far as E2B can tell.
		if isConflict(err) {
			err = notFound(row.ID.String())
		}
		h.writeError(w, r, mapError(err, row.ID.String()))
		return
	}
	h.record(w, r, "sandbox.kill", row.ID)
	w.WriteHeader(http.StatusNoContent)
}

// listQuery is a parsed list request.
type listQuery struct {
	req          sandboxes.ListRequest
	templateID   id.TemplateID // filter by ID (names go to the service)
	startedAfter time.Time
	limit        int
}

// maxScan bounds the rows one list call reads to fill a page past filters
// the database does not apply (startedAfter, template ID).
const maxScan = 5000

// parseList reads E2B's list parameters: metadata ("k=v&k2=v2", each key and
// value URL-encoded), state (running,paused), template (ID or name),
// startedAfter (RFC 3339), order (desc or asc, by creation), limit (1-100, default 100) and
// nextToken (from X-Next-Token).
func parseList(q url.Values, paged bool) (listQuery, error) {
	lq := listQuery{limit: 100}
	if md := q.Get("metadata"); md != "" {
		pairs, err := url.ParseQuery(md)
		if err != nil {
			return lq, invalid("metadata", "must be URL-encoded key=value pairs joined by &")
		}
		lq.req.Metadata = map[string]string{}
		for k, vs := range pairs {
			key, kerr := url.QueryUnescape(k)
			val, verr := url.QueryUnescape(vs[len(vs)-1])
			if kerr != nil || verr != nil || key == "" {
				return lq, invalid("metadata", "must be URL-encoded key=value pairs joined by &")
			}
			if err := checkText("metadata", key+val, 1152); err != nil {
				return lq, err
			}
			lq.req.Metadata[key] = val
		}
	}
	lq.req.Statuses = []sandbox.Status{sandbox.StatusRunning, sandbox.StatusPaused}
	if st := q.Get("state"); st != "" {
		lq.req.Statuses = nil
		for _, v := range strings.Split(st, ",") {
			switch v {
			case "running", "paused":
				lq.req.Statuses = append(lq.req.Statuses, sandbox.Status(v))
			default:
				return lq, invalid("state", "must be running or paused, not %q", trunc(v))
			}
		}
	}
	if t := q.Get("template"); t != "" {
		if err := checkText("template", t, 128); err != nil {
			return lq, err
		}
		if tid, err := id.ParseTemplateID(t); err == nil {
			lq.templateID = tid
		} else {
			lq.req.Template = t
		}
	}
	if sa := q.Get("startedAfter"); sa != "" {
		t, err := time.Parse(time.RFC3339Nano, sa)
		if err != nil {
			return lq, invalid("startedAfter", "must be an RFC 3339 time")
		}
		lq.startedAfter = t
	}
	if !paged {
		return lq, nil
	}
	switch q.Get("order") {
	case "", "desc":
	case "asc":
		lq.req.OldestFirst = true
	default:
		return lq, invalid("order", "must be asc or desc, not %q", trunc(q.Get("order")))
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return lq, invalid("limit", "must be between 1 and 100")
		}
		lq.limit = n
	}
	if tok := q.Get("nextToken"); tok != "" {
		sb, err := id.ParseSandboxID(tok)
		if err != nil {
			return lq, invalid("nextToken", "malformed; pass the X-Next-Token of the previous page")
		}
		lq.req.After = sb
	}
	return lq, nil
}

func (lq *listQuery) match(row db.Sandbox) bool {
	if !lq.templateID.IsZero() && (row.TemplateID == nil || *row.TemplateID != lq.templateID.UUID()) {
		return false
	}
	return lq.startedAfter.IsZero() || !startedAt(row).Before(lq.startedAfter)
}

// list returns up to lq.limit matches and the next page's token ("" at the
// end).
func (h *Handler) list(r *http.Request, lq listQuery) ([]db.Sandbox, string, error) {
	var out []db.Sandbox
	lq.req.Limit = min(max(lq.limit+1, 100), 1000)
	for scanned := 0; ; {
		rows, err := h.sandboxes.List(r.Context(), teamFrom(r.Context()), lq.req)
		if err != nil {
			return nil, "", err
		}
		for _, row := range rows {
			scanned++
			if !lq.match(row) {
				lq.req.After = row.ID
				continue
			}
			if len(out) == lq.limit {
				return out, out[len(out)-1].ID.String(), nil
			}
			out = append(out, row)
			lq.req.After = row.ID
		}
		if len(rows) < lq.req.Limit {
			return out, "", nil
		}
		if scanned >= maxScan {
			// A page short of the limit; the client goes on from here.
			return out, lq.req.After.String(), nil
		}
	}
}

// listV2 serves GET /v2/sandboxes: running and paused sandboxes, newest
// first (or oldest with order=asc), paged with X-Next-Token / nextToken.
func (h *Handler) listV2(w http.ResponseWriter, r *http.Request) {
	lq, err := parseList(r.URL.Query(), true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	rows, next, err := h.list(r, lq)
	if err != nil {
		h.writeError(w, r, mapError(err, ""))
		return
	}
	out := make([]listedView, 0, len(rows))
	for _, row := range rows {
		out = append(out, h.viewListed(row))
	}
	if next != "" {
		w.Header().Set("X-Next-Token", next)
	}
	writeJSON(w, http.StatusOK, out)
}

// listV1 serves the deprecated GET /sandboxes: one unpaged answer of up to
// 1000 sandboxes.
func (h *Handler) listV1(w http.ResponseWriter, r *http.Request) {
	lq, err := parseList(r.URL.Query(), false)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	lq.limit = 1000
	rows, _, err := h.list(r, lq)
	if err != nil {
		h.writeError(w, r, mapError(err, ""))
		return
	}
	out := make([]listedView, 0, len(rows))
	for _, row := range rows {
		out = append(out, h.viewListed(row))
	}
	writeJSON(w, http.StatusOK, out)
}
