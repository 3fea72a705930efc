package runc

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestCreatePassesFiles: files given to Run reach the container's init as
// fds 3, 4, … (runc --preserve-fds).
func TestCreatePassesFiles(t *testing.T) {
	r := newRunc(t)
	id := testID()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	spec, err := Spec(opts(t, r, id))
	if err != nil {
		t.Fatal(err)
	}
	b := bundle(t)
	ctx := context.Background()
	if err := r.Run(ctx, id, b, spec, pw); err != nil {
		t.Fatal(err)
	}
	st, err := r.State(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Delete(ctx, id, true); err != nil {
			t.Errorf("delete: %v", err)
		}
		assertGone(t, r, id, st.Pid)
	})
	want, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", pw.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/3", st.Pid))
	if err != nil || got != want {
		t.Fatalf("the init's fd 3 is %q (%v), want the pipe %q", got, err, want)
	}
	if err := r.Create(ctx, testID(), bundle(t), spec, nil); err == nil {
		t.Fatal("Create with a nil file: no error")
	}
}
