package image

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// AptMirror returns the Debian mirror URL this machine's apt uses, read from
// /etc/apt/sources.list and /etc/apt/sources.list.d/*.list and *.sources: the
// URI of the first enabled "deb" entry for a main suite (not -security,
// -updates or -backports). It fails with ErrNotFound when there is none.
func AptMirror() (string, error) {
	return aptMirror("/etc/apt")
}

func aptMirror(etcApt string) (string, error) {
	files := []string{filepath.Join(etcApt, "sources.list")}
	for _, pat := range []string{"*.list", "*.sources"} {
		m, _ := filepath.Glob(filepath.Join(etcApt, "sources.list.d", pat))
		files = append(files, m...)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("apt mirror: %w", err)
		}
		var uri string
		if strings.HasSuffix(f, ".sources") {
			uri = mirrorFromDeb822(string(data))
		} else {
			uri = mirrorFromOneLine(string(data))
		}
		if uri != "" {
			return strings.TrimSuffix(uri, "/"), nil
		}
	}
	return "", fmt.Errorf("apt mirror: no deb entry for a main suite in %s: %w", etcApt, ErrNotFound)
}

func mainSuite(s string) bool {
	return s != "" && !strings.Contains(s, "-") && !strings.Contains(s, "/")
}

// mirrorFromOneLine parses "deb [options] uri suite components..." lines.
func mirrorFromOneLine(data string) string {
	for _, line := range strings.Split(data, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // options, possibly spanning fields
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) >= 2 && mainSuite(f[1]) {
			return f[0]
		}
	}
	return ""
}

// mirrorFromDeb822 parses deb822 stanzas (Types:, URIs:, Suites:, Enabled:).
func mirrorFromDeb822(data string) string {
	for _, stanza := range strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "#") || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if ok {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if strings.EqualFold(fields["enabled"], "no") || !contains(strings.Fields(fields["types"]), "deb") {
			continue
		}
		uris := strings.Fields(fields["uris"])
		if len(uris) == 0 {
			continue
		}
		for _, s := range strings.Fields(fields["suites"]) {
			if mainSuite(s) {
				return uris[0]
			}
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
