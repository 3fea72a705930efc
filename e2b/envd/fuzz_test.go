package envd

import (
	"strings"
	"testing"
)

var fuzzRoutes = []struct{ path, ct string }{
	{"/process.Process/Start", "application/connect+json"},
	{"/process.Process/Start", "application/connect+proto"},
	{"/process.Process/StreamInput", "application/connect+json"},
	{"/process.Process/Connect", "application/connect+json"},
	{"/process.Process/SendInput", "application/json"},
	{"/filesystem.Filesystem/Stat", "application/json"},
	{"/filesystem.Filesystem/Stat", "application/proto"},
	{"/filesystem.Filesystem/ListDir", "application/json"},
}

// FuzzConnectBodies sends arbitrary bodies, framed or not, to the Connect
// routes of an authorised Handler over a fake agent: every answer must be a
// well-formed success or a client error, never a panic or an internal error.
func FuzzConnectBodies(f *testing.F) {
	h := newTestHandler(f)
	seeds := [][]byte{
		frame(0, []byte(`{"process":{"cmd":"/bin/sh","args":["-c","true"]},"stdin":true}`)),
		frame(0, []byte(`{"start":{"process":{"pid":42}}}`)),
		append(frame(0, []byte(`{"start":{"process":{"tag":"t"}}}`)), frame(0, []byte(`{"data":{"input":{"stdin":"aGk="}}}`))...),
		frame(0, []byte(`{"process":{"pid":4294967295}}`)),
		{0, 0, 0, 1, 0, '{'},
		{2, 0, 0, 0, 2, '{', '}'},
		{0, 0xff, 0xff, 0xff, 0xff},
		[]byte(`{"path":"/etc/../x","depth":4294967295}`),
		[]byte(`{"process":{"pid":1},"input":{"pty":"AA=="}}`),
		[]byte{0x0a, 0x03, 'a', 'b'},
		{},
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		rec := post(h, r.path, r.ct, testToken, body)
		out := rec.Body.String()
		if rec.Code >= 500 || strings.Contains(out, `"code":"internal"`) || strings.Contains(out, `"code":"unknown"`) {
			t.Fatalf("%s %s %q: %d %q", r.path, r.ct, body, rec.Code, out)
		}
	})
}
