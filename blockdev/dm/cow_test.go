package dm

import "testing"

// storeChunks replays drivers/md/dm-snap-persistent.c for e exceptions on a new
// snapshot and returns how many chunks the CoW device must hold for none of
// them to fail: the header (0) and area 0 (1) are written at creation;
// next_free starts at 2; prepare_exception needs (next_free+1) chunks, then
// skips metadata chunks (next_free % 257 == 1); commit_exception zeroes the
// next area when the current one fills.
func storeChunks(e int64) int64 {
	const stride = exceptionsPerArea + 1
	need, next, committed, area := int64(2), int64(2), int64(0), int64(0)
	for range e {
		need = max(need, next+1)
		next++
		if next%stride == 1 {
			next++
		}
		if committed++; committed == exceptionsPerArea {
			committed = 0
			area++
			need = max(need, 1+stride*area+1)
		}
	}
	return need
}

func TestCowBytesMatchesExceptionStore(t *testing.T) {
	for e := int64(1); e <= 3000; e++ {
		if got, want := cowChunks(e*chunkBytes), storeChunks(e); got != want {
			t.Fatalf("cowChunks(%d chunks) = %d, the exception store needs exactly %d", e, got, want)
		}
		if got := cowBytes(e * chunkBytes); got != (storeChunks(e)+cowSlackChunks)*chunkBytes {
			t.Fatalf("cowBytes(%d chunks) = %d: not the exact need plus the slack", e, got)
		}
	}
}

func TestCowBytes(t *testing.T) {
	for _, tc := range []struct {
		devBytes, want int64 // want: chunks
	}{
		{4096, 3},                       // header + area 0 + 1 data chunk
		{256 * 4096, 259},               // a full area: + the next area, zeroed
		{257 * 4096, 260},               // into area 1
		{4097, 4},                       // a partial chunk counts as a chunk
		{20 << 30, 5242880 + 20480 + 2}, // 20 GiB
	} {
		if got := cowChunks(tc.devBytes); got != tc.want {
			t.Errorf("cowChunks(%d) = %d, want %d", tc.devBytes, got, tc.want)
		}
	}
	// Overhead on a 20 GiB disk: metadata is 1/256 of the data, ~0.4%.
	if over := float64(cowBytes(20<<30))/float64(20<<30) - 1; over > 0.005 {
		t.Errorf("cow overhead on 20 GiB: %.4f, want < 0.5%%", over)
	}
}
