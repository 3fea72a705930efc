package api

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/warrenhq/warren/sandbox/agent"
)

func (s *Server) fileRoutes() []route {
	pathQ := param{"path", "absolute path inside the sandbox"}
	return []route{
		{method: "GET", pattern: "/v1/sandboxes/{id}/files", access: team, summary: "Download a file (raw bytes, streamed).", query: []param{pathQ}, rawResp: "application/octet-stream", handler: s.download},
		{method: "PUT", pattern: "/v1/sandboxes/{id}/files", access: team, summary: "Upload a file from the raw body (streamed; written atomically; parent directories created).",
			query: []param{pathQ, {"mode", "octal permissions, default 0644"}}, rawBody: "application/octet-stream", resp: fileView{}, handler: s.upload},
		{method: "DELETE", pattern: "/v1/sandboxes/{id}/files", access: team, summary: "Remove a file or directory (recursive=true for non-empty directories).",
			query: []param{pathQ, {"recursive", "true to remove a directory tree"}}, status: http.StatusNoContent, handler: s.removeFile},
		{method: "GET", pattern: "/v1/sandboxes/{id}/files/list", access: team, summary: "List a directory down to depth levels (default 1).",
			query: []param{pathQ, {"depth", "1-10, default 1"}}, resp: fileListResponse{}, handler: s.listFiles},
		{method: "GET", pattern: "/v1/sandboxes/{id}/files/stat", access: team, summary: "Describe a path (symlinks are not followed).", query: []param{pathQ}, resp: fileView{}, handler: s.statFile},
		{method: "POST", pattern: "/v1/sandboxes/{id}/files/mkdir", access: team, summary: "Make a directory and its parents (mkdir -p).", req: mkdirRequest{}, resp: fileView{}, status: http.StatusCreated, handler: s.mkdir},
	}
}

type fileView struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	Type       string    `json:"type"` // file, dir, symlink, other
	Size       int64     `json:"size"`
	Mode       string    `json:"mode"` // octal permissions, e.g. "0644"
	ModTime    time.Time `json:"mtime"`
	LinkTarget string    `json:"link_target,omitempty"`
}

func viewFile(fi agent.FileInfo) fileView {
	t := "other"
	switch {
	case fi.Mode.IsDir():
		t = "dir"
	case fi.Mode&fs.ModeSymlink != 0:
		t = "symlink"
	case fi.Mode.IsRegular():
		t = "file"
	}
	return fileView{Name: fi.Name, Path: fi.Path, Type: t, Size: fi.Size, Mode: fmt.Sprintf("%04o", fi.Mode.Perm()), ModTime: fi.ModTime, LinkTarget: fi.LinkTarget}
}

// sandboxPath validates a path parameter: absolute, clean enough, bounded.
func sandboxPath(field, p string) (string, error) {
	switch {
	case p == "":
		return "", errInvalid(field, "is required")
	case len(p) > 4096:
		return "", errInvalid(field, "must be at most 4096 bytes")
	case strings.ContainsRune(p, 0):
		return "", errInvalid(field, "must not contain NUL")
	case !strings.HasPrefix(p, "/"):
		return "", errInvalid(field, "must be an absolute path")
	}
	for _, seg := range strings.Split(p, "/") {
		if len(seg) > 255 {
			return "", errInvalid(field, "a path component is longer than 255 bytes")
		}
	}
	// ".." cannot leave the sandbox (the agent resolves inside its root), but a
	// clean path keeps answers and logs unambiguous.
	return path.Clean(p), nil
}

func (s *Server) fileOp(w http.ResponseWriter, r *http.Request) (string, *agent.Client, bool) {
	p, err := sandboxPath("path", r.URL.Query().Get("path"))
	if err == nil {
		var a *agent.Client
		if _, a, err = s.agentFor(r); err == nil {
			return p, a, true
		}
	}
	writeError(w, r, s.log, err)
	return "", nil, false
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.fileOp(w, r)
	if !ok {
		return
	}
	fi, err := a.Stat(r.Context(), p)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	if !fi.Mode.IsRegular() {
		writeError(w, r, s.log, errInvalid("path", "%s is not a regular file", p))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(fi.Size, 10))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	if _, err := a.Download(r.Context(), p, w); err != nil {
		// Headers are gone; the short body tells the client.
		s.log.Warn("download interrupted", "request_id", RequestID(r.Context()), "err", err)
	}
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.fileOp(w, r)
	if !ok {
		return
	}
	mode := fs.FileMode(0o644)
	if m := r.URL.Query().Get("mode"); m != "" {
		v, err := strconv.ParseUint(m, 8, 32)
		if err != nil || v > 0o7777 {
			writeError(w, r, s.log, errInvalid("mode", "must be octal permissions such as 0644"))
			return
		}
		mode = fs.FileMode(v)
	}
	if _, err := a.Upload(r.Context(), p, mode, r.Body); err != nil {
		if tooLarge(err) {
			writeError(w, r, s.log, errTooLarge(s.cfg.MaxUploadBytes))
			return
		}
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	fi, err := a.Stat(r.Context(), p)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	writeJSON(w, http.StatusOK, viewFile(fi))
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func (s *Server) removeFile(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.fileOp(w, r)
	if !ok {
		return
	}
	if p == "/" {
		writeError(w, r, s.log, errInvalid("path", "the root directory cannot be removed"))
		return
	}
	recursive := r.URL.Query().Get("recursive") == "true"
	if err := a.Remove(r.Context(), p, recursive); err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.fileOp(w, r)
	if !ok {
		return
	}
	depth := 1
	if d := r.URL.Query().Get("depth"); d != "" {
		v, err := strconv.Atoi(d)
		if err != nil || v < 1 || v > 10 {
			writeError(w, r, s.log, errInvalid("depth", "must be between 1 and 10"))
			return
		}
		depth = v
	}
	res, err := a.List(r.Context(), p, depth)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	out := fileListResponse{Items: make([]fileView, 0, len(res.Entries)), Truncated: res.Truncated}
	for _, e := range res.Entries {
		out.Items = append(out.Items, viewFile(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// fileListResponse is a directory listing; Truncated says the agent stopped
// at its entry or size cap (10000 entries by default) before the end.
type fileListResponse struct {
	Items     []fileView `json:"items"`
	Truncated bool       `json:"truncated,omitempty"`
}

func (s *Server) statFile(w http.ResponseWriter, r *http.Request) {
	p, a, ok := s.fileOp(w, r)
	if !ok {
		return
	}
	fi, err := a.Stat(r.Context(), p)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	writeJSON(w, http.StatusOK, viewFile(fi))
}

type mkdirRequest struct {
	Path string `json:"path"`
}

func (s *Server) mkdir(w http.ResponseWriter, r *http.Request) {
	var req mkdirRequest
	if err := decode(r, &req); err != nil {
		writeError(w, r, s.log, err)
		return
	}
	p, err := sandboxPath("path", req.Path)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	_, a, err := s.agentFor(r)
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if err := a.MakeDir(r.Context(), p, 0o755); err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	fi, err := a.Stat(r.Context(), p)
	if err != nil {
		writeError(w, r, s.log, mapDomain(err))
		return
	}
	writeJSON(w, http.StatusCreated, viewFile(fi))
}
