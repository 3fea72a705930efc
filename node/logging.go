package node

import (
	"context"
	"log/slog"
	"slices"
	"strings"
)

// NewLogHandler wraps h so that every line a node writes carries each key
// once, whatever layers added it: "node" keeps the first value it was given,
// "component" values join into a path from the outermost layer in
// ("cluster" then "raft" gives "cluster.raft"), and any other key given twice
// keeps its last value. Log pipelines reject or mangle JSON objects with
// repeated keys; the layers of a node (node → cluster → raft) each add their
// own. Attributes inside a group (WithGroup) are deduplicated within it.
func NewLogHandler(h slog.Handler) slog.Handler { return &logHandler{inner: h} }

type logHandler struct {
	inner slog.Handler
	attrs []slog.Attr // this level's attributes, not yet given to inner
}

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	return &logHandler{inner: h.inner, attrs: mergeAttrs(slices.Clone(h.attrs), as)}
}

// WithGroup hands this level's attributes to inner first: what follows is
// inside the group, a scope of its own.
func (h *logHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &logHandler{inner: h.inner.WithAttrs(h.attrs).WithGroup(name)}
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	own := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		own = append(own, a)
		return true
	})
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	out.AddAttrs(mergeAttrs(slices.Clone(h.attrs), own)...)
	return h.inner.Handle(ctx, out)
}

// mergeAttrs adds as to dst by the rules of NewLogHandler.
func mergeAttrs(dst, as []slog.Attr) []slog.Attr {
	for _, a := range as {
		if a.Equal(slog.Attr{}) {
			continue
		}
		i := slices.IndexFunc(dst, func(d slog.Attr) bool { return d.Key == a.Key })
		switch {
		case i < 0:
			dst = append(dst, a)
		case a.Key == "node":
			// The first (outermost) node ID stands.
		case a.Key == "component":
			dst[i] = slog.String("component", joinComponent(dst[i].Value.String(), a.Value.String()))
		default:
			dst[i] = a
		}
	}
	return dst
}

// joinComponent appends sub to the path, unless the path already ends with it
// (a layer that names itself again).
func joinComponent(path, sub string) string {
	if sub == "" || path == sub || strings.HasSuffix(path, "."+sub) {
		return path
	}
	if path == "" {
		return sub
	}
	return path + "." + sub
}
