package dm

// CoW sizing. The persistent exception store (drivers/md/dm-snap-persistent.c)
// lays out its device in chunks (4 KiB here):
//
//	chunk 0                     header
//	chunk 1                     metadata area 0: 256 exceptions (16 bytes each)
//	chunks 2..257               the data chunks area 0 describes
//	chunk 258                   metadata area 1
//	...                         and so on, one metadata chunk per 256 data chunks
//
// Every chunk of the snapshot device is copied at most once, on its first write,
// so a snapshot device of D chunks needs at most E = D exceptions. The store
// refuses an exception — invalidating the whole snapshot — when chunk
// next_free+1 would lie past the CoW device's end; and when a metadata area fills
// up it zeroes the next one. With E exceptions the last data chunk is
// 2 + 257*floor((E-1)/256) + (E-1)%256, and when E is a multiple of 256 the
// area zeroed after the last one fills is chunk 1 + 257*(E/256). Both fit in
//
//	cowChunks(E) = E + floor(E/256) + 2
//
// chunks: the header, area 0, E data chunks, and one more metadata chunk for
// every 256 exceptions (the area after each full one). Sizing the CoW file so —
// it is sparse, so the size costs nothing until written — means no write to the
// snapshot device, through the filesystem or raw, can overflow the store: a full
// filesystem returns ENOSPC and the snapshot stays valid. The formula is exact
// (cow_test.go replays the kernel's allocator; the VM test shows one chunk less
// invalidates a fully written snapshot). cowBytes adds cowSlackChunks on top,
// free since the file is sparse, so a kernel that allocates a little
// differently still cannot overflow. Overhead: 1/256 of the disk, ~0.4%.

// exceptionsPerArea is how many exceptions one metadata chunk holds: the chunk
// size over the 16-byte on-disk exception (old chunk, new chunk).
const exceptionsPerArea = chunkBytes / 16

// cowSlackChunks is the margin cowBytes adds to the exact need: one area.
const cowSlackChunks = exceptionsPerArea + 1

// cowChunks returns the exact number of CoW chunks a snapshot device of
// devBytes bytes can use: every chunk written once, with the store's header
// and metadata.
func cowChunks(devBytes int64) int64 {
	e := (devBytes + chunkBytes - 1) / chunkBytes // chunks of the snapshot device
	return e + e/exceptionsPerArea + 2
}

// cowBytes returns the CoW file size for a snapshot device of devBytes bytes.
func cowBytes(devBytes int64) int64 {
	return (cowChunks(devBytes) + cowSlackChunks) * chunkBytes
}
