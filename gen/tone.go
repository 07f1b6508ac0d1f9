package gen

// The RTP of every generated answered call carries real G.711 audio: a
// sine tone at about -20 dBFS, one frequency per side (gen/g711.go), its
// phase running on across lost packets. A test that decodes the payload
// listens for these.
const (
	// CallerToneHz is the tone of the caller → callee stream.
	CallerToneHz = callerToneHz
	// CalleeToneHz is the tone of the callee → caller stream.
	CalleeToneHz = calleeToneHz
)
