package audio

import "errors"

var (
	// ErrUnsupportedCodec is wrapped with the codec's name when a stream's
	// payload is not one this package decodes.
	ErrUnsupportedCodec = errors.New("audio: codec not supported")
	// ErrTooLong is returned when the audio would last longer than the
	// limit a render was given.
	ErrTooLong = errors.New("audio: longer than the limit")
	// ErrNoAudio is returned when no channel has a single decodable packet.
	ErrNoAudio = errors.New("audio: no decodable packets")
	// ErrChannels is returned for a render of other than one or two channels.
	ErrChannels = errors.New("audio: want one or two channels")
)
