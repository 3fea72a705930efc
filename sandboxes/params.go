package sandboxes

import (
	"encoding/json"

	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/sandbox"
	"github.com/warrenhq/warren/store/db"
)

// params turns a create request into the row to insert: the template's and
// the operator's defaults where the request is silent, each field checked
// against the limits.
func (s *Service) params(req CreateRequest, tpl db.Template) (db.CreateSandboxParams, error) {
	l := s.limits
	vcpus := float64(tpl.Vcpus)
	if vcpus <= 0 {
		vcpus = l.DefaultVCPUs
	}
	if req.VCPUs != nil {
		vcpus = *req.VCPUs
	}
	if vcpus < 0.1 || vcpus > l.MaxVCPUs {
		return db.CreateSandboxParams{}, sandbox.Fieldf("vcpus", "must be between 0.1 and %g", l.MaxVCPUs)
	}
	mem := int64(tpl.MemoryMb)
	if mem <= 0 {
		mem = l.DefaultMemoryMB
	}
	if err := pick(&mem, req.MemoryMB, "memory_mb", 64, l.MaxMemoryMB); err != nil {
		return db.CreateSandboxParams{}, err
	}
	disk := l.DefaultDiskMB
	if err := pick(&disk, req.DiskSizeMB, "disk_size_mb", l.MinDiskMB, l.MaxDiskMB); err != nil {
		return db.CreateSandboxParams{}, err
	}
	timeout := l.DefaultTimeoutSec
	if err := pick(&timeout, req.TimeoutSec, "timeout_sec", 1, l.MaxTimeoutSec); err != nil {
		return db.CreateSandboxParams{}, err
	}
	if len(req.Metadata) > l.MaxMetadata {
		return db.CreateSandboxParams{}, sandbox.Fieldf("metadata", "at most %d keys", l.MaxMetadata)
	}
	if len(req.Env) > l.MaxEnv {
		return db.CreateSandboxParams{}, sandbox.Fieldf("env", "at most %d variables", l.MaxEnv)
	}
	md := req.Metadata
	if md == nil {
		md = map[string]string{}
	}
	mdJSON, err := json.Marshal(md)
	if err != nil {
		return db.CreateSandboxParams{}, sandbox.Fieldf("metadata", "%v", err)
	}
	internet := true
	if req.AllowInternet != nil {
		internet = *req.AllowInternet
	}
	node := s.node.UUID()
	tplID := tpl.ID.UUID()
	return db.CreateSandboxParams{
		ID: id.NewSandboxID(), TeamID: req.Team, NodeID: &node, TemplateID: &tplID, TemplateName: tpl.Name,
		Vcpus: float32(vcpus), MemoryMb: int32(mem), DiskSizeMb: int32(disk), TimeoutSec: int32(timeout),
		AllowInternetAccess: internet, IsBuild: req.IsBuild, Metadata: mdJSON,
	}, nil
}

// pick sets *dst from v when given, checking min ≤ v ≤ max.
func pick(dst *int64, v *int64, field string, min, max int64) error {
	if v != nil {
		*dst = *v
	}
	if *dst < min || *dst > max {
		return sandbox.Fieldf(field, "must be between %d and %d, got %d", min, max, *dst)
	}
	return nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// setStatus moves a sandbox to status from any state that may precede it.
