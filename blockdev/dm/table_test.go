package dm

import (
	"reflect"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestTables(t *testing.T) {
	origin, cow := unix.Mkdev(7, 3), unix.Mkdev(7, 300)
	if got, want := snapshotTable(2048, origin, cow)[0].String(), "0 2048 snapshot 7:3 7:300 P 8"; got != want {
		t.Errorf("snapshot table %q, want %q", got, want)
	}
	ext := extendTable(1000, 3000, unix.Mkdev(7, 1))
	if len(ext) != 2 || ext[0].String() != "0 1000 linear 7:1 0" || ext[1].String() != "1000 2000 zero " {
		t.Errorf("extend table %v", ext)
	}
	if got := extendTable(1000, 1000, unix.Mkdev(7, 1)); len(got) != 1 {
		t.Errorf("extend table without extension: %v", got)
	}
	if got := devArg(unix.Mkdev(253, 4096)); got != "253:4096" {
		t.Errorf("devArg = %q", got)
	}
}

// TestTableRoundTrip encodes a table as DM_TABLE_LOAD does and decodes it the
// way a DM_TABLE_STATUS answer is laid out (next relative to the payload).
func TestTableRoundTrip(t *testing.T) {
	in := []target{
		{0, 1000, "linear", "7:1 0"},
		{1000, 24, "zero", ""},
		{1024, 8, "snapshot", "7:2 7:3 P 8"},
	}
	buf, err := encodeTable(in)
	if err != nil {
		t.Fatal(err)
	}
	off := 0
	for i := range in {
		if off%8 != 0 {
			t.Fatalf("spec %d at %d: not 8-byte aligned", i, off)
		}
		next := int(le.Uint32(buf[off+20:]))
		if next < specSize+len(in[i].params)+1 {
			t.Fatalf("spec %d: next %d leaves no room for its parameters", i, next)
		}
		le.PutUint32(buf[off+20:], uint32(off+next)) // relative to the payload, as the kernel answers
		off += next
	}
	if off != len(buf) {
		t.Fatalf("specs cover %d of %d bytes", off, len(buf))
	}
	out, err := decodeStatus(buf, uint32(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n in  %v\n out %v", in, out)
	}
}

func TestEncodeTableRejects(t *testing.T) {
	for _, bad := range [][]target{
		{{0, 0, "zero", ""}},
		{{0, 8, "", ""}},
		{{0, 8, "a-target-type-name-too-long", ""}},
		{{0, 8, "linear", "7:1\x000"}},
	} {
		if _, err := encodeTable(bad); err == nil {
			t.Errorf("encodeTable(%v): no error", bad)
		}
	}
}

func TestHeaderLayout(t *testing.T) {
	var d unix.DmIoctl
	for _, c := range []struct {
		name string
		ours uintptr
		C    uintptr
	}{
		{"data_size", offDataSize, unsafe.Offsetof(d.Data_size)},
		{"data_start", offDataStart, unsafe.Offsetof(d.Data_start)},
		{"target_count", offTargetCount, unsafe.Offsetof(d.Target_count)},
		{"open_count", offOpenCount, unsafe.Offsetof(d.Open_count)},
		{"flags", offFlags, unsafe.Offsetof(d.Flags)},
		{"event_nr", offEventNr, unsafe.Offsetof(d.Event_nr)},
		{"dev", offDev, unsafe.Offsetof(d.Dev)},
		{"name", offName, unsafe.Offsetof(d.Name)},
		{"uuid", offUUID, unsafe.Offsetof(d.Uuid)},
	} {
		if c.ours != c.C {
			t.Errorf("struct dm_ioctl.%s at %d, want %d", c.name, c.ours, c.C)
		}
	}
	var s unix.DmTargetSpec
	if unsafe.Offsetof(s.Next) != 20 || unsafe.Offsetof(s.Target_type) != 24 || specSize != 40 {
		t.Errorf("struct dm_target_spec layout changed")
	}
}

func TestHeaderEncoding(t *testing.T) {
	buf := make([]byte, headerSize+64)
	encodeHeader(buf, "w-sb-1", unix.DM_READONLY_FLAG, 2)
	d := (*unix.DmIoctl)(unsafe.Pointer(&buf[0]))
	if d.Version != [3]uint32{4, 0, 0} || d.Data_size != uint32(len(buf)) || d.Data_start != headerSize ||
		d.Target_count != 2 || d.Flags != unix.DM_READONLY_FLAG || cString(d.Name[:]) != "w-sb-1" {
		t.Fatalf("encoded header %+v", *d)
	}
	d.Dev = unix.Mkdev(253, 7)
	d.Open_count = -1
	h := decodeHeader(buf)
	if unix.Major(h.dev) != 253 || unix.Minor(h.dev) != 7 || h.openCount != -1 || h.name != "w-sb-1" {
		t.Fatalf("decoded header %+v", h)
	}
	long := make([]byte, nameLen)
	for i := range long {
		long[i] = 'a'
	}
	for _, bad := range []string{"", "a/b", string(long)} {
		if err := checkDMName(bad); err == nil {
			t.Errorf("checkDMName(%q): no error", bad)
		}
	}
}

func TestDecodeLists(t *testing.T) {
	// Two struct dm_name_list records; next is relative to each record.
	names := make([]byte, 64)
	le.PutUint64(names[0:], unix.Mkdev(253, 0))
	le.PutUint32(names[8:], 32)
	copy(names[12:], "w-a\x00")
	le.PutUint64(names[32:], unix.Mkdev(253, 1))
	copy(names[44:], "w-b@ext\x00")
	devs, err := decodeNameList(names)
	if err != nil {
		t.Fatal(err)
	}
	want := []deviceInfo{{"w-a", unix.Mkdev(253, 0)}, {"w-b@ext", unix.Mkdev(253, 1)}}
	if !reflect.DeepEqual(devs, want) {
		t.Fatalf("name list %v, want %v", devs, want)
	}
	if devs, err := decodeNameList(make([]byte, 16)); err != nil || len(devs) != 0 {
		t.Fatalf("empty name list: %v %v", devs, err)
	}

	vers := make([]byte, 64)
	le.PutUint32(vers[0:], 32)
	le.PutUint32(vers[4:], 1)
	le.PutUint32(vers[8:], 16)
	copy(vers[16:], "snapshot\x00")
	le.PutUint32(vers[36:], 1)
	copy(vers[48:], "zero\x00")
	v, err := decodeVersions(vers)
	if err != nil {
		t.Fatal(err)
	}
	if v["snapshot"] != [3]uint32{1, 16, 0} || v["zero"] != [3]uint32{1, 0, 0} || len(v) != 2 {
		t.Fatalf("versions %v", v)
	}
}

func TestParseSnapshotStatus(t *testing.T) {
	for in, want := range map[string]snapshotStatus{
		"16/2048 8":    {Allocated: 16, Total: 2048, Metadata: 8},
		"Invalid":      {Invalid: true},
		"Overflow":     {Invalid: true},
		"Merge failed": {Invalid: true},
	} {
		got, err := parseSnapshotStatus(in)
		if err != nil || got != want {
			t.Errorf("parseSnapshotStatus(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "16/2048", "x/2 3", "1/2 y"} {
		if _, err := parseSnapshotStatus(bad); err == nil {
			t.Errorf("parseSnapshotStatus(%q): no error", bad)
		}
	}
}
