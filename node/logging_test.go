package node_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/warrenhq/warren/node"
)

// uniqueKeys decodes one JSON object and fails on a key it has seen before at
// the same level (encoding/json would keep the last one silently).
func uniqueKeys(line string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var walk func() (any, error)
	walk = func() (any, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch tok {
		case json.Delim('{'):
			obj := map[string]any{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key := k.(string)
				if _, dup := obj[key]; dup {
					return nil, fmt.Errorf("key %q repeated", key)
				}
				if obj[key], err = walk(); err != nil {
					return nil, err
				}
			}
			_, err := dec.Token()
			return obj, err
		case json.Delim('['):
			var arr []any
			for dec.More() {
				v, err := walk()
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		default:
			return tok, nil
		}
	}
	v, err := walk()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	return obj, nil
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(node.NewLogHandler(slog.NewJSONHandler(&buf, nil)))
	nodeLog := base.With("node", "node-1")
	clusterLog := nodeLog.With("component", "cluster", "node", "node-1-again")
	raftLog := clusterLog.With("component", "raft")
	tests := []struct {
		name string
		log  func()
		want map[string]string
	}{
		{"node once", func() { nodeLog.Info("a") }, map[string]string{"node": "node-1"}},
		{"component path", func() { raftLog.Info("b") }, map[string]string{"node": "node-1", "component": "cluster.raft"}},
		{"record adds a component", func() { clusterLog.Info("c", "component", "memberlist") }, map[string]string{"component": "cluster.memberlist"}},
		{"a layer naming itself again", func() { clusterLog.Info("d", "component", "cluster") }, map[string]string{"component": "cluster"}},
		{"other keys: last wins", func() { nodeLog.With("sandbox", "x").Info("e", "sandbox", "y") }, map[string]string{"sandbox": "y"}},
		{"group is its own scope", func() {
			raftLog.WithGroup("g").With("node", "inner").Info("f", "node", "inner2")
		}, map[string]string{"node": "node-1", "component": "cluster.raft"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			tc.log()
			obj, err := uniqueKeys(strings.TrimSpace(buf.String()))
			if err != nil {
				t.Fatalf("%v in %s", err, buf.String())
			}
			for k, v := range tc.want {
				if got := fmt.Sprint(obj[k]); got != v {
					t.Errorf("%s = %q, want %q (line %s)", k, got, v, buf.String())
				}
			}
		})
	}
}
