package bytering

import (
	"bytes"
	"testing"
)

// record i is i%251 bytes (some empty), each byte i%256.
func ringRecord(i int) []byte { return bytes.Repeat([]byte{byte(i)}, i%251) }

func TestByteRingCarriesRecordsIntactAcrossManyWraps(t *testing.T) {
	r := New[int](1000, 8)
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		want := 0
		for sp := range r.spans {
			if sp.Meta != want {
				t.Errorf("record %d arrived as %d", want, sp.Meta)
			}
			if got := r.Bytes(sp); !bytes.Equal(got, ringRecord(sp.Meta)) {
				t.Errorf("record %d: %d bytes, corrupted", sp.Meta, len(got))
			}
			r.Release(sp)
			want++
		}
		if want != n {
			t.Errorf("%d records arrived, want %d", want, n)
		}
	}()
	for i := 0; i < n; {
		rec := ringRecord(i)
		b := r.Reserve(len(rec))
		if b == nil {
			continue // full: the consumer catches up
		}
		copy(b, rec)
		r.Commit(len(rec), i)
		i++
	}
	r.Close()
	<-done
}

func TestByteRingRefusesWhatDoesNotFit(t *testing.T) {
	r := New[int](100, 3)
	if r.Reserve(101) != nil {
		t.Fatal("a record larger than the ring was reserved")
	}
	for i := range 2 {
		if b := r.Reserve(40); b == nil {
			t.Fatalf("record %d of 40 bytes refused in an empty ring", i)
		}
		r.Commit(40, i)
	}
	// 80 bytes held: 40 more do not fit before the end (no wrap into
	// bytes not yet released) nor at the start.
	if r.Reserve(40) != nil {
		t.Fatal("a third 40-byte record was reserved in a 100-byte ring holding 80")
	}
	if b := r.Reserve(20); b == nil {
		t.Fatal("a 20-byte record refused with 20 bytes free at the end")
	}
	r.Commit(20, 2)
	if r.Reserve(0) != nil {
		t.Fatal("a fourth record was reserved past the 3-record limit")
	}
	// Releasing the first record frees its 40 bytes at the start; a
	// 30-byte record skips nothing (the end is full) and goes there.
	r.Release(<-r.spans)
	b := r.Reserve(30)
	if b == nil {
		t.Fatal("30 bytes refused after 40 at the start were released")
	}
	if &b[0] != &r.buf[0] {
		t.Error("the wrapped record does not start at the ring's start")
	}
}
