package cluster

import (
	"context"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// logWriter turns the "[LEVEL] text" lines that memberlist and hclog print into
// slog records.
type logWriter struct {
	log       *slog.Logger
	component string
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		level, msg := slog.LevelInfo, strings.TrimSpace(line)
		if i := strings.Index(msg, "["); i >= 0 {
			if j := strings.Index(msg[i:], "]"); j > 0 {
				switch msg[i+1 : i+j] {
				case "TRACE", "DEBUG":
					level = slog.LevelDebug
				case "WARN":
					level = slog.LevelWarn
				case "ERR", "ERROR":
					level = slog.LevelError
				}
				msg = strings.TrimSpace(msg[i+j+1:])
			}
		}
		w.log.Log(context.Background(), level, msg, "component", w.component)
	}
	return len(p), nil
}

func stdLogger(l *slog.Logger, component string) *log.Logger {
	return log.New(logWriter{l, component}, "", 0)
}

func hcLogger(l *slog.Logger, component string) hclog.Logger {
	level := hclog.Info
	if l.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{
		Name: component, Output: logWriter{l, component}, Level: level, DisableTime: true,
	})
}
