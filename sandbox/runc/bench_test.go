package runc

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkCreateStartDelete measures a container's create+start (runc create
// and runc start, until the init runs) and delete, with and without the user
// namespace, for the busybox rootfs. Reported: ms/create+start, ms/delete.
func BenchmarkCreateStartDelete(b *testing.B) {
	for _, c := range []struct {
		name   string
		userns bool
	}{{"userns", true}, {"no-userns", false}} {
		b.Run(c.name, func(b *testing.B) {
			r := newRunc(b)
			ctx := context.Background()
			root := rootfs(b)
			dir := bundle(b)
			var startTotal, delTotal time.Duration
			n := 0
			for b.Loop() {
				id := testID()
				spec, err := buildSpec(SpecOptions{ID: id, Rootfs: root, Init: fixInit, CgroupsPath: r.CgroupsPath(id)}, c.userns)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if err := r.Run(ctx, id, dir, spec); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := r.Delete(ctx, id, true); err != nil {
					b.Fatal(err)
				}
				startTotal += t1.Sub(t0)
				delTotal += time.Since(t1)
				n++
			}
			b.ReportMetric(float64(startTotal.Microseconds())/1000/float64(n), "ms/create+start")
			b.ReportMetric(float64(delTotal.Microseconds())/1000/float64(n), "ms/delete")
		})
	}
}

// BenchmarkRuntimeCreate compares the runtimes' create+start (until the init
// runs) on the busybox rootfs, the spec production uses. Reported: the
// median, ms/create-p50.
func BenchmarkRuntimeCreate(b *testing.B) {
	for _, rt := range Runtimes() {
		b.Run(string(rt), func(b *testing.B) {
			r := newRunc(b)
			if rt == RuntimeGVisor {
				r = newGVisor(b)
			}
			ctx := context.Background()
			root := rootfs(b)
			dir := bundle(b)
			var took []time.Duration
			for b.Loop() {
				id := testID()
				o := SpecOptions{ID: id, Rootfs: root, Init: fixInit, CgroupsPath: r.CgroupsPath(id), Runtime: rt}
				if rt == RuntimeGVisor {
					o.CtlDir = b.TempDir()
				}
				spec, err := Spec(o)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if err := r.Run(ctx, id, dir, spec); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t0))
				if err := r.Delete(ctx, id, true); err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms/create-p50")
		})
	}
}
