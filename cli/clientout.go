package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table writes aligned columns; call flush when done.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(toAny(header)...)
	return t
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (t *table) row(cols ...any) {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(t.tw, strings.Join(parts, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// isTerminal reports whether w is a terminal (progress bars only go there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// humanBytes formats n as B, KiB, MiB, GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// ago formats how long ago t was ("3m", "2h", "5d"); "-" for the zero time.
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return shortDuration(time.Since(t)) + " ago"
}

// until formats the time left before t, or "-".
func until(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	d := time.Until(*t)
	if d < 0 {
		return "passed"
	}
	return "in " + shortDuration(d)
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// parseKV parses repeated key=value flags of flag name into a map.
func parseKV(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s: %q is not key=value", flag, p)
		}
		m[k] = v
	}
	return m, nil
}

// progressBar draws a one-line bar on a terminal, at most ten times a second.
type progressBar struct {
	w     io.Writer
	label string
	last  time.Time
	width int
	drawn bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	return &progressBar{w: w, label: label, width: 30}
}

// render returns the bar's line for done of total (total < 0: unknown).
func (p *progressBar) render(done, total int64, unit string) string {
	if total <= 0 {
		if unit == "bytes" {
			return fmt.Sprintf("%s %s", p.label, humanBytes(done))
		}
		return fmt.Sprintf("%s %d", p.label, done)
	}
	if done > total {
		done = total
	}
	filled := int(int64(p.width) * done / total)
	bar := strings.Repeat("=", filled)
	if filled < p.width {
		bar += ">" + strings.Repeat(" ", p.width-filled-1)
	}
	pct := 100 * done / total
	if unit == "bytes" {
		return fmt.Sprintf("%s [%s] %3d%% %s/%s", p.label, bar, pct, humanBytes(done), humanBytes(total))
	}
	return fmt.Sprintf("%s [%s] %d/%d", p.label, bar, done, total)
}

// update redraws the bar; final forces a draw.
func (p *progressBar) update(done, total int64, unit string, final bool) {
	if !final && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r\033[K%s", p.render(done, total, unit))
	p.drawn = true
}

// clear removes the bar's line so other output can be printed.
func (p *progressBar) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// done ends the bar's line.
func (p *progressBar) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// pageSize checks --limit (0: all) and returns the page size to ask for.
func pageSize(limit int) (int, error) {
	if limit < 0 {
		return 0, fmt.Errorf("--limit: must be 0 (all) or more, got %d", limit)
	}
	if limit > 0 && limit < 200 {
		return limit, nil
	}
	return 200, nil
}

// collect reads items from a paginated listing until it ends or limit items
// (0: no limit) are read.
func collect[T any](seq iter.Seq2[T, error], limit int) ([]T, error) {
	out := []T{}
	for item, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, item)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}
