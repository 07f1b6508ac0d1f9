// Package audio turns a call's stored RTP packets back into sound: it
// decodes G.711 (A-law and µ-law), lays each stream's packets out on the
// capture clock by their RTP timestamps (lost packets become silence of
// their length, duplicates and overlaps are played once) and writes the
// result as a 16-bit 8 kHz PCM WAV file, mono or stereo. It sits beside
// quality after decode: the api package feeds it packets read from
// storage and serves the WAV.
package audio
