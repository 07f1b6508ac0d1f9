package sdp

// staticNames backs the encoding names EncodingName returns for static
// payload types. It is never written; callers must not modify the slices.
var staticNames = []byte("PCMUGSMG723DVI4LPCPCMAG722L16QCELPCNMPAG728G729CelBJPEGnvH261MPVMP2TH263")

// staticPayload describes an RTP/AVP static payload type (RFC 3551 §6).
// name is a [start, end) span of staticNames; clock 0 means unassigned.
type staticPayload struct {
	start, end uint8
	clock      uint32
	channels   uint8
}

func static(pt uint8) staticPayload {
	switch pt {
	case 0:
		return staticPayload{0, 4, 8000, 1} // PCMU
	case 3:
		return staticPayload{4, 7, 8000, 1} // GSM
	case 4:
		return staticPayload{7, 11, 8000, 1} // G723
	case 5:
		return staticPayload{11, 15, 8000, 1} // DVI4
	case 6:
		return staticPayload{11, 15, 16000, 1} // DVI4
	case 7:
		return staticPayload{15, 18, 8000, 1} // LPC
	case 8:
		return staticPayload{18, 22, 8000, 1} // PCMA
	case 9:
		// G.722 samples at 16 kHz but its RTP clock is 8000 (RFC 3551 §4.5.2).
		return staticPayload{22, 26, 8000, 1} // G722
	case 10:
		return staticPayload{26, 29, 44100, 2} // L16 stereo
	case 11:
		return staticPayload{26, 29, 44100, 1} // L16 mono
	case 12:
		return staticPayload{29, 34, 8000, 1} // QCELP
	case 13:
		return staticPayload{34, 36, 8000, 1} // CN
	case 14:
		return staticPayload{36, 39, 90000, 0} // MPA
	case 15:
		return staticPayload{39, 43, 8000, 1} // G728
	case 16:
		return staticPayload{11, 15, 11025, 1} // DVI4
	case 17:
		return staticPayload{11, 15, 22050, 1} // DVI4
	case 18:
		return staticPayload{43, 47, 8000, 1} // G729
	case 25:
		return staticPayload{47, 51, 90000, 0} // CelB
	case 26:
		return staticPayload{51, 55, 90000, 0} // JPEG
	case 28:
		return staticPayload{55, 57, 90000, 0} // nv
	case 31:
		return staticPayload{57, 61, 90000, 0} // H261
	case 32:
		return staticPayload{61, 64, 90000, 0} // MPV
	case 33:
		return staticPayload{64, 68, 90000, 0} // MP2T
	case 34:
		return staticPayload{68, 72, 90000, 0} // H263
	}
	return staticPayload{}
}

func (p staticPayload) name() []byte {
	if p.clock == 0 {
		return nil
	}
	return staticNames[p.start:p.end:p.end]
}
