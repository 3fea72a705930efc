package envd

import (
	"bytes"
	"compress/gzip"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/warrenhq/warren/id"
)

// An upload over Config.MaxUpload (raw, multipart or after gunzip) is
// refused with a 400 saying so, and nothing is committed.
func TestUploadLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxUpload = 1 << 20
	h, committed := newTestHandlerWith(t, cfg)
	upload := func(ct, enc string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/files?path=/tmp/f", bytes.NewReader(body))
		req.Header.Set(HeaderSandboxID, id.NewSandboxID().String())
		req.Header.Set(HeaderAccessToken, testToken)
		req.Header.Set("Content-Type", ct)
		if enc != "" {
			req.Header.Set("Content-Encoding", enc)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := upload("application/octet-stream", "", make([]byte, 1000)); rec.Code != http.StatusOK || committed.Load() != 1 {
		t.Fatalf("positive control: %d %s, %d committed", rec.Code, rec.Body, committed.Load())
	}
	big := make([]byte, 2<<20)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "/tmp/f")
	fw.Write(big)
	mw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(big)
	zw.Close()
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"raw":       upload("application/octet-stream", "", big),
		"multipart": upload(mw.FormDataContentType(), "", mp.Bytes()),
		"gzip bomb": upload("application/octet-stream", "gzip", gz.Bytes()),
	} {
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "larger than this node allows") {
			t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
		}
	}
	if n := committed.Load(); n != 1 {
		t.Fatalf("%d uploads committed, want only the positive control", n)
	}
	if rec := upload("text/plain", "", []byte("x")); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Content-Type") {
		t.Errorf("text/plain: %d %s", rec.Code, rec.Body)
	}
}
