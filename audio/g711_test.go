package audio

import "testing"

// The decoder output levels of ITU-T G.711: per segment the level of the
// first step and the distance between steps, in the standard's units
// (µ-law: 14-bit, table 2b; A-law: 13-bit, table 2a, where levels are the
// odd mid-points). 16-bit PCM is µ-law ×4 and A-law ×8.
var (
	ulawFirst = [8]int{0, 33, 99, 231, 495, 1023, 2079, 4191}
	ulawStep  = [8]int{2, 4, 8, 16, 32, 64, 128, 256}
	alawFirst = [8]int{1, 33, 66, 132, 264, 528, 1056, 2112}
	alawStep  = [8]int{2, 2, 4, 8, 16, 32, 64, 128}
)

func TestG711DecodesEveryCharacterToTheStandardsLevel(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		// µ-law: the character is sent inverted; sign bit 1 after
		// inversion is negative.
		u := ^b
		seg, step := int(u>>4&7), int(u&15)
		want := 4 * (ulawFirst[seg] + step*ulawStep[seg])
		if u&0x80 != 0 {
			want = -want
		}
		if got := ULaw(b); int(got) != want {
			t.Errorf("µ-law 0x%02X: %d, want %d", b, got, want)
		}
		// A-law: even bits inverted; sign bit 1 is positive.
		a := b ^ 0x55
		seg, step = int(a>>4&7), int(a&15)
		want = 8 * (alawFirst[seg] + step*alawStep[seg])
		if a&0x80 == 0 {
			want = -want
		}
		if got := ALaw(b); int(got) != want {
			t.Errorf("A-law 0x%02X: %d, want %d", b, got, want)
		}
	}
}

func TestG711KnownCharacters(t *testing.T) {
	cases := []struct {
		name string
		law  func(byte) int16
		in   byte
		want int16
	}{
		{"µ-law 0xFF is positive zero", ULaw, 0xFF, 0},
		{"µ-law 0x7F is negative zero", ULaw, 0x7F, 0},
		{"µ-law 0x80 is the largest positive level", ULaw, 0x80, 32124},
		{"µ-law 0x00 is the largest negative level", ULaw, 0x00, -32124},
		{"µ-law 0xFE is the smallest positive step", ULaw, 0xFE, 8},
		{"A-law 0xD5 is the smallest positive level", ALaw, 0xD5, 8},
		{"A-law 0x55 is the smallest negative level", ALaw, 0x55, -8},
		{"A-law 0xAA is the largest positive level", ALaw, 0xAA, 32256},
		{"A-law 0x2A is the largest negative level", ALaw, 0x2A, -32256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.law(tc.in); got != tc.want {
				t.Fatalf("%d, want %d", got, tc.want)
			}
		})
	}
}

func TestCodecsAreFoundByNameAndStaticPayloadType(t *testing.T) {
	for _, tc := range []struct {
		name    string
		byName  string
		pt      uint8
		want    Codec
		wantErr bool
	}{
		{"PCMU by name in any case and payload type 0", "pcmu", 0, PCMU, false},
		{"PCMA by name and payload type 8", "PCMA", 8, PCMA, false},
		{"G.729 is refused naming it", "G729", 18, 0, true},
		{"G.722 is refused naming it", "G722", 9, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := CodecByName(tc.byName)
			c2, err2 := StaticCodec(tc.pt)
			if tc.wantErr {
				if err == nil || err2 == nil {
					t.Fatalf("no error: %v %v", c, c2)
				}
				if got := err.Error(); got != "audio: codec not supported: "+tc.byName {
					t.Errorf("error %q does not name the codec", got)
				}
				return
			}
			if err != nil || err2 != nil || c != tc.want || c2 != tc.want {
				t.Fatalf("%v %v, %v %v; want %v", c, err, c2, err2, tc.want)
			}
		})
	}
}
