package envd

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"time"

	"connectrpc.com/connect"

	"github.com/warrenhq/warren/id"
	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
	"github.com/warrenhq/warren/sandbox/agent"
)

// fileEntry is one written file in a /files upload answer.
type fileEntry struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// httpError answers err as envd does: {"code": status, "message": ...}.
func (h *Handler) httpError(w http.ResponseWriter, r *http.Request, err error) {
	ce := new(connect.Error)
	if !errors.As(err, &ce) {
		ce = connectErr(r.Context(), h.log, err).(*connect.Error)
	}
	code := httpStatus(ce)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": ce.Message()})
}

// fileCall authorises a /files request: X-Access-Token, or a signature
// made from the access token (the SDK's uploadUrl/downloadUrl) when
// Config.AccessToken is set.
func (h *Handler) fileCall(r *http.Request, op string) (*call, error) {
	q := r.URL.Query()
	user := q.Get("username")
	token := r.Header.Get(HeaderAccessToken)
	if sig := q.Get("signature"); sig != "" && token == "" {
		if h.cfg.AccessToken == nil {
			return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("signed file URLs are not enabled on this node; send "+HeaderAccessToken))
		}
		sb, err := id.ParseSandboxID(r.Header.Get(HeaderSandboxID))
		if err != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s header: not a sandbox ID", HeaderSandboxID))
		}
		want := h.cfg.AccessToken(sb)
		if err := checkSignature(q.Get("path"), op, user, want, sig, q.Get("signature_expiration"), time.Now()); err != nil {
			return nil, err
		}
		token = want
	}
	return h.authorize(r.Context(), r.Header, token, user)
}

// checkSignature verifies an envd file signature:
// "v1_" + base64(sha256(path:op:user:token[:expiration])) without padding.
func checkSignature(p, op, user, token, sig, exp string, now time.Time) error {
	raw := p + ":" + op + ":" + user + ":" + token
	if exp != "" {
		n, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			return invalidArg("signature_expiration %q is not a unix time", exp)
		}
		if now.Unix() > n {
			return connect.NewError(connect.CodeUnauthenticated, errors.New("the signature has expired"))
		}
		raw += ":" + exp
	}
	sum := sha256.Sum256([]byte(raw))
	want := "v1_" + base64.RawStdEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("invalid signature for this path, operation and user"))
	}
	return nil
}

// download streams a file: GET /files?path=&username=.
func (h *Handler) download(w http.ResponseWriter, r *http.Request) {
	c, err := h.fileCall(r, "read")
	if err != nil {
		h.httpError(w, r, err)
		return
	}
	p, err := h.resolve(r.Context(), c, "path", r.URL.Query().Get("path"))
	if err != nil {
		h.httpError(w, r, err)
		return
	}
	stream, err := c.agent.Raw().ReadFile(r.Context(), &agentv1.ReadFileRequest{Path: p})
	if err != nil {
		h.httpError(w, r, err)
		return
	}
	first, err := stream.Recv()
	if err != nil {
		h.httpError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(first.GetInfo().GetSize(), 10))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	w.WriteHeader(http.StatusOK)
	m := first
	for {
		if _, err := w.Write(m.GetData()); err != nil {
			return // the client left
		}
		if m, err = stream.Recv(); err != nil {
			if err != io.EOF {
				h.log.WarnContext(r.Context(), "envd: download broken off", "sandbox", c.sb, "path", p, "err", err)
			}
			return
		}
	}
}

// upload writes files: POST /files?path=&username= with a multipart body
// (parts named "file"; without path, each part's filename is its path) or,
// for envd >= 0.5.7, an application/octet-stream body (gzip allowed).
func (h *Handler) upload(w http.ResponseWriter, r *http.Request) {
	c, err := h.fileCall(r, "write")
	if err != nil {
		h.httpError(w, r, err)
		return
	}
	body := http.MaxBytesReader(w, r.Body, h.cfg.MaxUpload)
	qpath := r.URL.Query().Get("path")
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var written []fileEntry
	switch {
	case ct == "application/octet-stream":
		if qpath == "" {
			h.httpError(w, r, invalidArg("path is required for an octet-stream upload"))
			return
		}
		var src io.Reader = body
		switch enc := r.Header.Get("Content-Encoding"); enc {
		case "", "identity":
		case "gzip":
			zr, err := gzip.NewReader(body)
			if err != nil {
				h.httpError(w, r, invalidArg("Content-Encoding gzip: %v", err))
				return
			}
			src = &capReader{r: zr, left: h.cfg.MaxUpload}
		default:
			h.httpError(w, r, invalidArg("Content-Encoding %q is not supported", enc))
			return
		}
		e, err := h.writeOne(r.Context(), c, qpath, src)
		if err != nil {
			h.httpError(w, r, uploadErr(err))
			return
		}
		written = append(written, e)
	case ct == "multipart/form-data":
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				h.httpError(w, r, uploadErr(invalidArg("multipart body: %v", err)))
				return
			}
			if part.FormName() != "file" {
				part.Close()
				continue
			}
			dest := qpath
			if dest == "" {
				// Not part.FileName(): it keeps only the last element.
				_, dp, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
				dest = dp["filename"]
			}
			if dest == "" {
				h.httpError(w, r, invalidArg("path is required (query path or the part's filename)"))
				return
			}
			e, err := h.writeOne(r.Context(), c, dest, part)
			part.Close()
			if err != nil {
				h.httpError(w, r, uploadErr(err))
				return
			}
			written = append(written, e)
		}
		if len(written) == 0 {
			h.httpError(w, r, invalidArg("the multipart body has no part named \"file\""))
			return
		}
	default:
		h.httpError(w, r, invalidArg("Content-Type %q: want multipart/form-data or application/octet-stream", ct))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(written)
}

// uploadErr turns a too-large body into a clear answer.
func uploadErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, errTooLarge) {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("the upload is larger than this node allows"))
	}
	return err
}

var errTooLarge = errors.New("upload too large")

// capReader fails once more than left bytes were read (decompressed data).
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

// writeOne streams src to the file dest through the agent: written to a
// temporary file, owned by the call's user, renamed into place when src
// ends; any failure leaves nothing behind.
func (h *Handler) writeOne(ctx context.Context, c *call, dest string, src io.Reader) (fileEntry, error) {
	p, err := h.resolve(ctx, c, "path", dest)
	if err != nil {
		return fileEntry{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // an unfinished stream is discarded by the agent
	stream, err := c.agent.Raw().WriteFile(ctx)
	if err != nil {
		return fileEntry{}, err
	}
	if err := stream.Send(&agentv1.WriteFileRequest{Msg: &agentv1.WriteFileRequest_Header{
		Header: &agentv1.WriteFileHeader{Path: p, Mode: 0o644, MkdirParents: true, Owner: c.user},
	}}); err != nil && err != io.EOF {
		return fileEntry{}, err
	}
	for {
		buf := make([]byte, agent.ChunkSize)
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			if err := stream.Send(&agentv1.WriteFileRequest{Msg: &agentv1.WriteFileRequest_Data{Data: buf[:n]}}); err != nil {
				if err == io.EOF {
					break // the agent ended the call; CloseAndRecv says why
				}
				return fileEntry{}, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fileEntry{}, rerr
		}
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		return fileEntry{}, err
	}
	return fileEntry{Name: path.Base(p), Path: p, Type: "file"}, nil
}
