package correlate

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// The dialog table must find every dialog it holds, and only those, when
// hashes collide, cluster and wrap around the end of the table, through
// growth and removals in any order.
func TestDialogTableFindsEveryDialogThroughCollisionsGrowthAndRemovals(t *testing.T) {
	for _, tt := range []struct {
		name   string
		hashes uint64 // distinct hash values drawn from
		high   bool   // hashes near the end of the table, to wrap probes
	}{
		{"with every Call-ID sharing one hash", 1, false},
		{"with a few hashes for many Call-IDs", 7, true},
		{"with hashes clustered at the end of the table", 64, true},
		{"with hashes as spread as real ones", 1 << 62, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tt.hashes)))
			tab := newDialogTable()
			want := map[string]*dialog{}
			hashOf := func() uint64 {
				h := rng.Uint64N(tt.hashes)
				if tt.high {
					h = minDialogSlots - 1 - h
				}
				return h
			}
			check := func(step int) {
				if tab.len() != len(want) {
					t.Fatalf("step %d: len %d, want %d", step, tab.len(), len(want))
				}
				for id, d := range want {
					if got := tab.get(d.hash, []byte(id)); got != d {
						t.Fatalf("step %d: get(%q) = %p, want %p", step, id, got, d)
					}
					if got := tab.getString(d.hash, id); got != d {
						t.Fatalf("step %d: getString(%q) = %p, want %p", step, id, got, d)
					}
				}
				if got := tab.get(hashOf(), []byte("absent")); got != nil {
					t.Fatalf("step %d: found a Call-ID never added", step)
				}
			}
			next := 0
			for step := range 3000 {
				if len(want) == 0 || rng.IntN(3) != 0 {
					id := "c" + strconv.Itoa(next)
					next++
					d := &dialog{callID: id, hash: hashOf()}
					tab.add(d)
					want[id] = d
				} else {
					for id, d := range want { // a random one: map order
						tab.remove(d)
						delete(want, id)
						break
					}
				}
				if step%97 == 0 || tt.hashes < 8 && step%7 == 0 {
					check(step)
				}
			}
			check(-1)
			for id, d := range want {
				tab.remove(d)
				delete(want, id)
				tab.remove(d) // removing twice changes nothing
			}
			check(-2)
		})
	}
}
