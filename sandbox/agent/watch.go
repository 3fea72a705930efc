package agent

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentv1 "github.com/warrenhq/warren/proto/agent/v1"
)

const (
	// maxWatchers is how many watches (streamed and polled) may exist at once.
	maxWatchers = 16
	// maxWatchEvents is how many events one watcher buffers; past that the
	// watcher fails with ResourceExhausted (events would be lost).
	maxWatchEvents = 1024
	// maxWatchDirs bounds the directories one recursive watch covers.
	maxWatchDirs = 4096
	// watcherIdle is how long a polled watcher lives without being polled.
	watcherIdle = 10 * time.Minute

	watchMask = unix.IN_CREATE | unix.IN_MODIFY | unix.IN_DELETE | unix.IN_MOVED_FROM |
		unix.IN_MOVED_TO | unix.IN_ATTRIB | unix.IN_ONLYDIR
)

// watcher is one inotify instance covering a directory (and, recursive,
// every directory below it). A reader goroutine turns the kernel's events
// into WatchEvents named relative to the watched directory.
type watcher struct {
	id        string
	root      *root
	base      string // the watched directory, cleaned
	recursive bool
	file      *os.File // the inotify fd, non-blocking, in the poller
	fd        int      // the same fd (file.Fd would make it blocking)

	mu       sync.Mutex
	dirs     map[int32]string // watch descriptor → directory relative to base
	events   []*agentv1.WatchEvent
	err      error // terminal: overflow, the directory went away, read failure
	lastPoll time.Time
	notify   chan struct{} // cap 1: events or err changed
	done     chan struct{} // the reader has stopped
}

// watchTable holds every watcher of the agent.
type watchTable struct {
	mu     sync.Mutex
	all    map[string]*watcher
	polled map[string]bool
}

func newWatchTable() *watchTable {
	return &watchTable{all: make(map[string]*watcher), polled: make(map[string]bool)}
}

// newWatcher starts watching dir. polled watchers stay in the table until
// removed (or idle for watcherIdle); streamed ones until closed.
func (s *server) newWatcher(req *agentv1.WatchRequest, polled bool) (*watcher, error) {
	base, err := cleanPath("path", req.GetPath())
	if err != nil {
		return nil, err
	}
	t := s.watches
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	for id := range t.polled {
		w := t.all[id]
		w.mu.Lock()
		idle := now.Sub(w.lastPoll) > watcherIdle
		w.mu.Unlock()
		if idle {
			s.log.Info("removing a watcher nobody polled", "watcher", id, "path", w.base)
			w.close()
			delete(t.all, id)
			delete(t.polled, id)
		}
	}
	if len(t.all) >= maxWatchers {
		return nil, status.Errorf(codes.ResourceExhausted, "%d watchers exist already (the limit)", maxWatchers)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, statusErr("watch", base, err)
	}
	var idb [16]byte
	_, _ = rand.Read(idb[:])
	w := &watcher{
		id:        hex.EncodeToString(idb[:]),
		root:      s.root,
		base:      base,
		recursive: req.GetRecursive(),
		file:      os.NewFile(uintptr(fd), "inotify"),
		fd:        fd,
		dirs:      make(map[int32]string),
		lastPoll:  now,
		notify:    make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	w.mu.Lock()
	err = w.addTree("")
	w.mu.Unlock()
	if err != nil {
		w.file.Close()
		return nil, err
	}
	go w.read()
	t.all[w.id] = w
	if polled {
		t.polled[w.id] = true
	}
	return w, nil
}

// remove stops w and drops it from the table.
func (s *server) removeWatcher(w *watcher) {
	t := s.watches
	t.mu.Lock()
	delete(t.all, w.id)
	delete(t.polled, w.id)
	t.mu.Unlock()
	w.close()
}

// polledWatcher returns the polled watcher with id, marking it polled now.
func (s *server) polledWatcher(id string) (*watcher, error) {
	t := s.watches
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.polled[id] {
		return nil, status.Errorf(codes.NotFound, "watcher %q not found", id)
	}
	w := t.all[id]
	w.mu.Lock()
	w.lastPoll = time.Now()
	w.mu.Unlock()
	return w, nil
}

// closeWatchers stops every watcher (agent shutdown).
func (s *server) closeWatchers() {
	t := s.watches
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, w := range t.all {
		w.close()
		delete(t.all, id)
		delete(t.polled, id)
	}
}

// close stops the reader. The fd is closed under mu, so a batch being
// handled (which may add watches through fd) finishes first.
func (w *watcher) close() {
	w.mu.Lock()
	w.file.Close() // ends the reader's Read
	w.mu.Unlock()
	<-w.done
}

// addTree watches the directory rel (relative to base) and, recursive,
// every directory below it. It is called with w.mu held.
func (w *watcher) addTree(rel string) error {
	p := path.Join(w.base, rel)
	fd, err := w.root.open(p, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return statusErr("watch", p, err)
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	if len(w.dirs) >= maxWatchDirs {
		return status.Errorf(codes.ResourceExhausted, "watch %s: more than %d directories", w.base, maxWatchDirs)
	}
	// The watch is placed on the directory the fd resolved to inside the
	// root, not on a path the kernel would look up again.
	wd, err := unix.InotifyAddWatch(w.fd, "/proc/self/fd/"+strconv.Itoa(fd), watchMask)
	if err != nil {
		return statusErr("watch", p, err)
	}
	w.dirs[int32(wd)] = rel
	if !w.recursive {
		return nil
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return statusErr("list", p, err)
	}
	for _, e := range entries {
		if e.IsDir() { // d_type: symlinks to directories are not followed
			if err := w.addTree(path.Join(rel, e.Name())); err != nil {
				if status.Code(err) == codes.NotFound {
					continue // removed meanwhile
				}
				return err
			}
		}
	}
	return nil
}

// read turns inotify records into events until the fd is closed.
func (w *watcher) read() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.fail(statusErr("read events of", w.base, err))
			}
			return
		}
		w.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			end := off + unix.SizeofInotifyEvent + int(ev.Len)
			if end > n {
				break
			}
			name := string(buf[off+unix.SizeofInotifyEvent : end])
			for len(name) > 0 && name[len(name)-1] == 0 {
				name = name[:len(name)-1]
			}
			w.handle(ev, name)
			off = end
		}
		w.mu.Unlock()
		w.wake()
	}
}

// handle records one inotify record; w.mu is held.
func (w *watcher) handle(ev *unix.InotifyEvent, name string) {
	if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
		w.setErr(status.Errorf(codes.ResourceExhausted, "watch %s: the kernel's event queue overflowed; events were lost", w.base))
		return
	}
	dir, ok := w.dirs[ev.Wd]
	if !ok {
		return
	}
	if ev.Mask&unix.IN_IGNORED != 0 {
		delete(w.dirs, ev.Wd)
		if dir == "" {
			w.setErr(status.Errorf(codes.NotFound, "watch %s: the directory was removed", w.base))
		}
		return
	}
	var op agentv1.WatchOp
	switch {
	case ev.Mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
		op = agentv1.WatchOp_WATCH_OP_CREATE
	case ev.Mask&unix.IN_MODIFY != 0:
		op = agentv1.WatchOp_WATCH_OP_WRITE
	case ev.Mask&unix.IN_DELETE != 0:
		op = agentv1.WatchOp_WATCH_OP_REMOVE
	case ev.Mask&unix.IN_MOVED_FROM != 0:
		op = agentv1.WatchOp_WATCH_OP_RENAME
	case ev.Mask&unix.IN_ATTRIB != 0:
		op = agentv1.WatchOp_WATCH_OP_CHMOD
	default:
		return
	}
	rel := path.Join(dir, name)
	if w.err != nil {
		return
	}
	if len(w.events) >= maxWatchEvents {
		w.setErr(status.Errorf(codes.ResourceExhausted, "watch %s: more than %d events not fetched; events were lost", w.base, maxWatchEvents))
		return
	}
	w.events = append(w.events, &agentv1.WatchEvent{Name: rel, Op: op})
	if w.recursive && op == agentv1.WatchOp_WATCH_OP_CREATE && ev.Mask&unix.IN_ISDIR != 0 {
		if err := w.addTree(rel); err != nil && status.Code(err) != codes.NotFound {
			w.setErr(err)
		}
	}
}

func (w *watcher) setErr(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *watcher) fail(err error) {
	w.mu.Lock()
	w.setErr(err)
	w.mu.Unlock()
	w.wake()
}

func (w *watcher) wake() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

// take returns the buffered events and the watcher's terminal error.
func (w *watcher) take() ([]*agentv1.WatchEvent, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := w.events
	w.events = nil
	return ev, w.err
}
