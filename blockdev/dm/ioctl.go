package dm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The device-mapper ioctl interface (linux/dm-ioctl.h). Every call passes one
// buffer: a struct dm_ioctl header followed by a command-specific payload.

const (
	controlPath = "/dev/mapper/control"
	mapperDir   = "/dev/mapper"

	headerSize = unix.SizeofDmIoctl      // struct dm_ioctl: 312 bytes
	specSize   = unix.SizeofDmTargetSpec // struct dm_target_spec: 40 bytes
	nameLen    = unix.DM_NAME_LEN        // including the terminating NUL
	typeLen    = unix.DM_MAX_TYPE_NAME   // target type, including the NUL

	// Offsets inside struct dm_ioctl.
	offDataSize    = 12
	offDataStart   = 16
	offTargetCount = 20
	offOpenCount   = 24
	offFlags       = 28
	offEventNr     = 32
	offDev         = 40
	offName        = 48
	offUUID        = offName + nameLen

	// minOutput is the payload room given to calls that return data; the kernel
	// sets DM_BUFFER_FULL_FLAG when it needs more and the call is retried.
	minOutput = 16 << 10
)

// header is the decoded struct dm_ioctl.
type header struct {
	dataSize    uint32
	dataStart   uint32
	targetCount uint32
	openCount   int32
	flags       uint32
	eventNr     uint32
	dev         uint64 // huge_encode_dev: unix.Major/unix.Minor decode it
	name        string
}

var le = binary.LittleEndian

// encodeHeader writes a struct dm_ioctl for a call on device name into
// buf[:headerSize], with the payload starting right after it.
func encodeHeader(buf []byte, name string, flags uint32, targetCount uint32) {
	clear(buf[:headerSize])
	le.PutUint32(buf[0:], unix.DM_VERSION_MAJOR)
	le.PutUint32(buf[4:], 0) // minor/patch 0: any 4.x kernel accepts the call
	le.PutUint32(buf[8:], 0)
	le.PutUint32(buf[offDataSize:], uint32(len(buf)))
	le.PutUint32(buf[offDataStart:], headerSize)
	le.PutUint32(buf[offTargetCount:], targetCount)
	le.PutUint32(buf[offFlags:], flags)
	copy(buf[offName:offName+nameLen-1], name)
}

func decodeHeader(buf []byte) header {
	return header{
		dataSize:    le.Uint32(buf[offDataSize:]),
		dataStart:   le.Uint32(buf[offDataStart:]),
		targetCount: le.Uint32(buf[offTargetCount:]),
		openCount:   int32(le.Uint32(buf[offOpenCount:])),
		flags:       le.Uint32(buf[offFlags:]),
		eventNr:     le.Uint32(buf[offEventNr:]),
		dev:         le.Uint64(buf[offDev:]),
		name:        cString(buf[offName : offName+nameLen]),
	}
}

// checkName validates a device-mapper device name.
func checkDMName(name string) error {
	if name == "" || len(name) >= nameLen || bytes.ContainsAny([]byte(name), "/\x00") {
		return fmt.Errorf("dm device name %q: empty, longer than %d bytes or holding '/': %w", name, nameLen-1, errInvalidName)
	}
	return nil
}

var errInvalidName = errors.New("invalid device-mapper name")

// call runs one DM ioctl on device name (empty for global calls) with payload,
// giving the kernel at least outRoom bytes for its answer. It returns the
// decoded header and the answer's payload. A full output buffer is retried
// with a larger one.
func call(cmd uintptr, name string, flags uint32, targetCount uint32, payload []byte, outRoom int) (header, []byte, error) {
	if name != "" {
		if err := checkDMName(name); err != nil {
			return header{}, nil, err
		}
	}
	ctl, err := os.OpenFile(controlPath, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return header{}, nil, fmt.Errorf("open %s: %w", controlPath, err)
	}
	defer ctl.Close()
	room := max(outRoom, len(payload))
	for {
		buf := make([]byte, headerSize+room)
		encodeHeader(buf, name, flags, targetCount)
		copy(buf[headerSize:], payload)
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, ctl.Fd(), cmd, uintptr(unsafe.Pointer(&buf[0])))
		runtime.KeepAlive(buf)
		if errno != 0 {
			return header{}, nil, errno
		}
		h := decodeHeader(buf)
		if h.flags&unix.DM_BUFFER_FULL_FLAG != 0 && outRoom > 0 {
			if room >= 64<<20 {
				return h, nil, fmt.Errorf("dm ioctl answer larger than %d bytes", room)
			}
			room *= 4
			continue
		}
		end := min(int(h.dataSize), len(buf))
		start := min(int(h.dataStart), end)
		return h, buf[start:end], nil
	}
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// align8 rounds n up to a multiple of 8, the alignment of dm payload records.
func align8(n int) int { return (n + 7) &^ 7 }
