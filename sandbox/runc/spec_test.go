package runc

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specFixture makes an o+x dir with a rootfs dir and an executable init.
func specFixture(t *testing.T) (rootfs, init string) {
	t.Helper()
	d, err := os.MkdirTemp(fixDir, "spec-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o711); err != nil {
		t.Fatal(err)
	}
	rootfs, init = filepath.Join(d, "rootfs"), filepath.Join(d, "init")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(init, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return rootfs, init
}

func TestSpecDefaults(t *testing.T) {
	rootfs, init := specFixture(t)
	s, err := Spec(SpecOptions{ID: "sb-1", Rootfs: rootfs, Init: init, Args: []string{"agent"}, CgroupsPath: "/warren/sb-1",
		VCPUs: 1.5, MemoryBytes: 512 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if s.Hostname != "sb-1" || s.Process.Cwd != "/" || !slices.Equal(s.Process.Args, []string{InitPath, "agent"}) {
		t.Errorf("hostname %q cwd %q args %v", s.Hostname, s.Process.Cwd, s.Process.Args)
	}
	if !slices.ContainsFunc(s.Process.Env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		t.Errorf("env %v lacks PATH", s.Process.Env)
	}
	var types []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		types = append(types, ns.Type)
	}
	for _, want := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.MountNamespace, specs.UTSNamespace,
		specs.IPCNamespace, specs.NetworkNamespace, specs.CgroupNamespace, specs.UserNamespace} {
		if !slices.Contains(types, want) {
			t.Errorf("namespaces %v lack %s", types, want)
		}
	}
	if m := s.Linux.UIDMappings; len(m) != 1 || m[0] != (specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}) {
		t.Errorf("uid mappings %+v", m)
	}
	if !s.Process.NoNewPrivileges {
		t.Error("no_new_privileges off")
	}
	for _, c := range []string{"CAP_SYS_ADMIN", "CAP_NET_RAW", "CAP_MKNOD", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_TIME", "CAP_SYS_BOOT", "CAP_NET_ADMIN"} {
		if slices.Contains(s.Process.Capabilities.Bounding, c) {
			t.Errorf("bounding set holds %s", c)
		}
	}
	if len(s.Process.Capabilities.Inheritable)+len(s.Process.Capabilities.Ambient) != 0 {
		t.Error("inheritable or ambient capabilities set")
	}
	res := s.Linux.Resources
	if *res.CPU.Quota != 150000 || *res.CPU.Period != CPUPeriod {
		t.Errorf("cpu quota %d period %d", *res.CPU.Quota, *res.CPU.Period)
	}
	if *res.Memory.Limit != 512<<20 || *res.Memory.Swap != 512<<20 {
		t.Errorf("memory %d swap %d, want equal (no swap)", *res.Memory.Limit, *res.Memory.Swap)
	}
	if *res.Pids.Limit != DefaultPids {
		t.Errorf("pids %d", *res.Pids.Limit)
	}
	sc := s.Linux.Seccomp
	if sc.DefaultAction != specs.ActErrno || *sc.DefaultErrnoRet != 1 {
		t.Errorf("seccomp default %s/%v, want errno EPERM", sc.DefaultAction, sc.DefaultErrnoRet)
	}
	allowed := map[string]bool{}
	for _, r := range sc.Syscalls {
		if r.Action == specs.ActAllow && len(r.Args) == 0 {
			for _, n := range r.Names {
				allowed[n] = true
			}
		}
	}
	for _, n := range []string{"mount", "umount2", "unshare", "setns", "kexec_load", "init_module", "finit_module",
		"delete_module", "reboot", "swapon", "swapoff", "open_by_handle_at", "bpf", "perf_event_open", "keyctl",
		"add_key", "request_key", "userfaultfd", "clone3", "clone", "io_uring_setup", "pivot_root", "fsopen"} {
		if allowed[n] {
			t.Errorf("seccomp allows %s unconditionally", n)
		}
	}
	if allowed["socket"] || allowed["socketcall"] {
		t.Error("seccomp allows socket or socketcall unconditionally")
	}
	for _, n := range []string{"read", "execve", "openat", "futex", "wait4"} {
		if !allowed[n] {
			t.Errorf("seccomp does not allow %s", n)
		}
	}
	checkMinimalSys(t, s)
	if im := mountAt(s, InitPath); im.Source != init || !slices.Contains(im.Options, "ro") {
		t.Errorf("init mount %+v", im)
	}

	// Joining a netns: the path is set, /sys is the same minimal one, no sysctls.
	s, err = Spec(SpecOptions{ID: "sb-2", Rootfs: rootfs, Init: init, CgroupsPath: "/warren/sb-2", NetNSPath: "/proc/self/ns/net",
		BindMounts: []BindMount{{Source: rootfs, Destination: "/run/warren", ReadOnly: false}}})
	if err != nil {
		t.Fatal(err)
	}
	checkMinimalSys(t, s)
	if len(s.Linux.Sysctl) != 0 {
		t.Errorf("sysctls %v with a joined netns", s.Linux.Sysctl)
	}
	if b := mountAt(s, "/run/warren"); b.Source != rootfs || slices.Contains(b.Options, "ro") {
		t.Errorf("bind mount %+v, want rw", b)
	}
}

func mountAt(s *specs.Spec, dst string) specs.Mount {
	for _, m := range s.Mounts {
		if m.Destination == dst {
			return m
		}
	}
	return specs.Mount{}
}

func TestSpecInvalid(t *testing.T) {
	rootfs, init := specFixture(t)
	private := t.TempDir() // 0700: not searchable by the sandbox's root
	privInit := filepath.Join(private, "init")
	os.WriteFile(privInit, []byte("x"), 0o755)
	ok := SpecOptions{ID: "sb-1", Rootfs: rootfs, Init: init, CgroupsPath: "/warren/sb-1"}
	for name, c := range map[string]struct {
		mod  func(*SpecOptions)
		want string
	}{
		"bad id":        {func(o *SpecOptions) { o.ID = "../x" }, "container id"},
		"empty id":      {func(o *SpecOptions) { o.ID = "" }, "container id"},
		"relative root": {func(o *SpecOptions) { o.Rootfs = "rootfs" }, "Rootfs"},
		"missing root":  {func(o *SpecOptions) { o.Rootfs = "/nonexistent" }, "Rootfs"},
		"no init":       {func(o *SpecOptions) { o.Init = "" }, "Init"},
		"init is dir":   {func(o *SpecOptions) { o.Init = rootfs }, "Init"},
		"private init":  {func(o *SpecOptions) { o.Init = privInit }, "not searchable"},
		"bind rel":      {func(o *SpecOptions) { o.BindMounts = []BindMount{{Source: "x", Destination: "/x"}} }, "BindMounts.Source"},
		"bind over proc": {func(o *SpecOptions) {
			o.BindMounts = []BindMount{{Source: rootfs, Destination: "/proc/sys"}}
		}, "BindMounts.Destination"},
		"bind over init": {func(o *SpecOptions) { o.BindMounts = []BindMount{{Source: rootfs, Destination: InitPath}} }, "BindMounts.Destination"},
		"netns missing":  {func(o *SpecOptions) { o.NetNSPath = "/run/netns/nonexistent" }, "NetNSPath"},
		"vcpus neg":      {func(o *SpecOptions) { o.VCPUs = -1 }, "VCPUs"},
		"vcpus tiny":     {func(o *SpecOptions) { o.VCPUs = 0.001 }, "VCPUs"},
		"memory tiny":    {func(o *SpecOptions) { o.MemoryBytes = 1 << 20 }, "MemoryBytes"},
		"pids neg":       {func(o *SpecOptions) { o.Pids = -1 }, "Pids"},
		"no cgroup":      {func(o *SpecOptions) { o.CgroupsPath = "" }, "CgroupsPath"},
		"dirty cgroup":   {func(o *SpecOptions) { o.CgroupsPath = "/warren/../x" }, "CgroupsPath"},
		"root map":       {func(o *SpecOptions) { o.UIDMap = IDMap{HostID: 0, Size: 10} }, "UIDMap"},
	} {
		o := ok
		c.mod(&o)
		_, err := Spec(o)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrInvalid naming %q", name, err, c.want)
		}
	}
	if _, err := Spec(ok); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestNewInvalid(t *testing.T) {
	for name, cfg := range map[string]Config{
		"relative root": {Root: "state"},
		"bad parent":    {Root: "/tmp/x", CgroupParent: "warren"},
		"root parent":   {Root: "/tmp/x", CgroupParent: "/"},
		"no binary":     {Root: filepath.Join(t.TempDir(), "s"), Binary: "/nonexistent/runc"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New(%+v) succeeded", name, cfg)
		}
	}
}
