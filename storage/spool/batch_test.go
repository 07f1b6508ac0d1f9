package spool_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/sipscope/sipscope/pipeline"
	"github.com/sipscope/sipscope/storage"
	"github.com/sipscope/sipscope/storage/spool"
)

// recorder keeps the batches the pipeline writes.
type recorder struct{ batches []storage.Batch }

func (r *recorder) Write(_ context.Context, b storage.Batch) error {
	r.batches = append(r.batches, b)
	return nil
}

// TestBatchesRoundTripExactly spools the batches an import of real
// captures writes (calls, registrations, SIP messages with their bytes,
// streams with RTCP, timelines and DTMF) and reads them back: every field
// of every record is what was written.
func TestBatchesRoundTripExactly(t *testing.T) {
	var streams, messages int
	defer func() {
		if streams == 0 || messages == 0 {
			t.Errorf("the captures gave %d streams and %d messages: the round trip tested too little", streams, messages)
		}
	}()
	for _, path := range []string{"../../testdata/calls.pcap", "../../testdata/loss.pcap", "../../testdata/sip_tcp.pcap"} {
		t.Run(path, func(t *testing.T) {
			var rec recorder
			if _, err := pipeline.ImportFile(t.Context(), &rec, path); err != nil {
				t.Fatal(err)
			}
			s, err := spool.Open(spool.Config{Dir: t.TempDir(), MaxBytes: 64 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			records := 0
			for _, b := range rec.batches {
				streams += len(b.Streams)
				messages += len(b.Messages)
				records += len(b.Calls) + len(b.Registrations) + len(b.Messages) + len(b.Streams)
				if err := s.AppendBatch(b); err != nil {
					t.Fatal(err)
				}
			}
			if records == 0 {
				t.Fatal("the import wrote no records")
			}
			for i, want := range rec.batches {
				got, _, ok, err := s.PeekBatch()
				if err != nil || !ok {
					t.Fatalf("batch %d: ok %v, %v", i, ok, err)
				}
				if diff := firstDifference(reflect.ValueOf(got), reflect.ValueOf(want), "Batch"); diff != "" {
					t.Fatalf("batch %d differs after the spool: %s", i, diff)
				}
				if err := s.Ack(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestAnUndecodableRecordIsSkippedAndCounted(t *testing.T) {
	s, err := spool.Open(spool.Config{Dir: t.TempDir(), MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append([]byte("not a gob stream")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.PeekBatch(); err == nil {
		t.Fatal("a record that is no batch decoded")
	}
	if err := s.Skip(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Undecodable != 1 || st.Records != 0 {
		t.Errorf("stats %+v, want 1 undecodable, 0 waiting", st)
	}
}

var timeType = reflect.TypeOf(time.Time{})

// firstDifference compares like reflect.DeepEqual, except that times are
// equal when they are the same instant (gob keeps the offset, not the
// *Location) and a nil slice equals an empty one (gob sends neither; the
// store writes both the same). It returns where a and b first differ.
func firstDifference(a, b reflect.Value, path string) string {
	if a.Type() != b.Type() {
		return fmt.Sprintf("%s: type %s vs %s", path, a.Type(), b.Type())
	}
	if a.Type() == timeType {
		if !a.Interface().(time.Time).Equal(b.Interface().(time.Time)) {
			return fmt.Sprintf("%s: %v vs %v", path, a.Interface(), b.Interface())
		}
		return ""
	}
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			f := a.Type().Field(i)
			if !f.IsExported() {
				if a.Field(i).IsZero() && b.Field(i).IsZero() {
					continue
				}
				// netip types keep their state unexported; compare them whole.
				if a.CanInterface() && reflect.DeepEqual(a.Interface(), b.Interface()) {
					return ""
				}
				return fmt.Sprintf("%s.%s: unexported field differs", path, f.Name)
			}
			if d := firstDifference(a.Field(i), b.Field(i), path+"."+f.Name); d != "" {
				return d
			}
		}
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: length %d vs %d", path, a.Len(), b.Len())
		}
		for i := range a.Len() {
			if d := firstDifference(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
	case reflect.Map:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %d vs %d keys", path, a.Len(), b.Len())
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() {
				return fmt.Sprintf("%s[%v]: missing", path, k)
			}
			if d := firstDifference(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k)); d != "" {
				return d
			}
		}
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				return path + ": nil vs non-nil"
			}
			return ""
		}
		return firstDifference(a.Elem(), b.Elem(), path)
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		if x != y && !(x != x && y != y) { // NaN equals NaN here
			return fmt.Sprintf("%s: %v vs %v", path, x, y)
		}
	default:
		if a.CanInterface() && !reflect.DeepEqual(a.Interface(), b.Interface()) {
			return fmt.Sprintf("%s: %v vs %v", path, a.Interface(), b.Interface())
		}
	}
	return ""
}
