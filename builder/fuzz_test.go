package builder

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/sandboxes"
)

// FuzzNormalize decodes arbitrary JSON into a Request and normalizes it: it
// must never panic; a refusal is a *sandbox.FieldError naming a field; an
// accepted request is within every limit.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		`{"name":"web","recipe":["apt-get update","echo ok"]}`,
		`{"name":"svc","recipe":["true"],"start_cmd":"httpd","healthcheck":{"cmd":"wget -q localhost","retries":3}}`,
		`{"name":"x","recipe":[]}`, `{"name":"-bad","recipe":["true"]}`, `{"name":"a","recipe":[" "]}`,
		`{"name":"a","recipe":["true"],"base_template":"\u0000"}`, `{"name":"a","recipe":["true"],"vcpus":-1}`,
		`{"name":"a","recipe":["true"],"memory_mb":9223372036854775807}`, `{"name":"a","recipe":["true"],"healthcheck":{"cmd":"x"}}`,
		`{"name":"a","recipe":["true"],"step_timeout_sec":-5,"disk_size_mb":1}`,
	} {
		f.Add(s)
	}
	lim := sandboxes.DefaultLimits()
	f.Fuzz(func(t *testing.T, body string) {
		var r Request
		if json.Unmarshal([]byte(body), &r) != nil {
			return
		}
		err := r.Normalize(lim)
		if err != nil {
			var fe *sandbox.FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Message == "" {
				t.Fatalf("Normalize(%q): %T %v, want a FieldError", body, err, err)
			}
			return
		}
		switch {
		case !sandboxes.TemplateName.MatchString(r.Name):
			t.Fatalf("accepted name %q", r.Name)
		case len(r.Recipe) < 1 || len(r.Recipe) > MaxSteps:
			t.Fatalf("accepted %d steps", len(r.Recipe))
		case r.BaseTemplate == "" || !utf8.ValidString(r.BaseTemplate) || strings.ContainsRune(r.BaseTemplate, 0):
			t.Fatalf("accepted base_template %q", r.BaseTemplate)
		case r.VCPUs < 0.1 || r.VCPUs > lim.MaxVCPUs, r.MemoryMB < 64 || r.MemoryMB > lim.MaxMemoryMB,
			r.DiskSizeMB < lim.MinDiskMB || r.DiskSizeMB > lim.MaxDiskMB, r.StepTimeoutSec < 1 || r.StepTimeoutSec > MaxStepTimeoutSec:
			t.Fatalf("accepted out-of-range limits %+v", r)
		case r.Healthcheck != nil && r.StartCmd == "":
			t.Fatalf("accepted a healthcheck without start_cmd")
		}
		for i, s := range r.Recipe {
			if strings.TrimSpace(s) == "" || len(s) > MaxStepBytes || strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
				t.Fatalf("accepted step %d %q", i, s)
			}
		}
	})
}
