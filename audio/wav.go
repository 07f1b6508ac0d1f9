package audio

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// DefaultMaxDuration bounds a render unless its caller says otherwise:
// four hours of 8 kHz stereo is a 461 MB file, about the longest call a
// person would download to listen to.
const DefaultMaxDuration = 4 * time.Hour

// wavHeaderLen is the canonical 44-byte header: RIFF, fmt (PCM), data.
const wavHeaderLen = 44

// Render is a WAV file of one or two channels, laid out and bounded, ready
// to be written. Stereo channels share one time origin, so what was said
// at the same moment plays at the same moment.
type Render struct {
	chans   []*Channel
	origin  int64 // sample clock position of the first sample
	samples int64 // per channel
}

// NewRender prepares the WAV of chans (one: mono, two: stereo, left
// first). It spans from the earliest sample of any channel to the latest;
// a channel without audio is silence. It fails with ErrNoAudio when no
// channel holds audio and with ErrTooLong when the file would last longer
// than maxDur.
func NewRender(maxDur time.Duration, chans ...*Channel) (*Render, error) {
	if len(chans) < 1 || len(chans) > 2 {
		return nil, fmt.Errorf("%w: %d", ErrChannels, len(chans))
	}
	r := &Render{chans: chans}
	var end int64
	found := false
	for _, ch := range chans {
		if ch.Empty() {
			continue
		}
		if !found || ch.first < r.origin {
			r.origin = ch.first
		}
		if !found || ch.end > end {
			end = ch.end
		}
		found = true
	}
	if !found {
		return nil, ErrNoAudio
	}
	r.samples = end - r.origin
	if limit := int64(maxDur) / nsPerSample; r.samples > limit {
		return nil, fmt.Errorf("%w: %v of audio, at most %v", ErrTooLong,
			time.Duration(r.samples)*time.Duration(nsPerSample), maxDur)
	}
	return r, nil
}

// Channels is 1 (mono) or 2 (stereo).
func (r *Render) Channels() int { return len(r.chans) }

// Samples is the length of each channel in samples.
func (r *Render) Samples() int64 { return r.samples }

// Duration is how long the file plays.
func (r *Render) Duration() time.Duration { return time.Duration(r.samples * nsPerSample) }

// Start is the capture time of the first sample, Unix ns.
func (r *Render) Start() int64 { return r.origin * nsPerSample }

// Size is the length of the whole WAV file in bytes.
func (r *Render) Size() int64 { return wavHeaderLen + r.dataLen() }

func (r *Render) dataLen() int64 { return r.samples * int64(len(r.chans)) * 2 }

// header is the RIFF/WAVE header of 16-bit PCM at SampleRate.
func (r *Render) header() []byte {
	h := make([]byte, wavHeaderLen)
	nch := uint16(len(r.chans))
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], uint32(36+r.dataLen()))
	copy(h[8:], "WAVE")
	copy(h[12:], "fmt ")
	le.PutUint32(h[16:], 16) // fmt chunk length
	le.PutUint16(h[20:], 1)  // PCM
	le.PutUint16(h[22:], nch)
	le.PutUint32(h[24:], SampleRate)
	le.PutUint32(h[28:], SampleRate*uint32(nch)*2) // bytes per second
	le.PutUint16(h[32:], nch*2)                    // bytes per frame
	le.PutUint16(h[34:], 16)                       // bits per sample
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(r.dataLen()))
	return h
}

// renderChunk is how many sample frames are decoded and written at once.
const renderChunk = 4096

// WriteTo writes the WAV file to w: the header, then the samples, little
// endian, channels interleaved. It writes Size bytes unless w fails.
func (r *Render) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(r.header())
	total := int64(n)
	if err != nil {
		return total, fmt.Errorf("audio: write header: %w", err)
	}
	readers := make([]reader, len(r.chans))
	for i, ch := range r.chans {
		readers[i] = reader{ch: ch, cursor: r.origin}
	}
	nch := len(r.chans)
	samples := make([][]int16, nch)
	for i := range samples {
		samples[i] = make([]int16, renderChunk)
	}
	out := make([]byte, renderChunk*nch*2)
	for left := r.samples; left > 0; {
		k := int(min(left, renderChunk))
		for i := range readers {
			readers[i].read(samples[i][:k])
		}
		for j := range k {
			for i := range nch {
				binary.LittleEndian.PutUint16(out[(j*nch+i)*2:], uint16(samples[i][j]))
			}
		}
		n, err := w.Write(out[:k*nch*2])
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("audio: write samples: %w", err)
		}
		left -= int64(k)
	}
	return total, nil
}
