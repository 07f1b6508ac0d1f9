package capture

import "errors"

// Sentinel errors returned (wrapped with the file path and record number) by
// the sources in this package. Callers test them with errors.Is.
var (
	// ErrNotCapture means the input is neither pcap nor pcapng (nor a gzip of
	// either): wrong magic, unknown version, or empty.
	ErrNotCapture = errors.New("capture: not a pcap or pcapng file")
	// ErrTruncated means the file ends in the middle of a record, as happens
	// when a capture is copied while still being written. Everything before
	// the damaged record was returned intact; callers count it and stop.
	ErrTruncated = errors.New("capture: file ends inside a record")
	// ErrCorrupt means a record header is implausible (a capture length above
	// the snap length or the original length, an unknown interface, ...), so
	// the rest of the file cannot be trusted.
	ErrCorrupt = errors.New("capture: corrupt record")
	// ErrResynced (from FileSource.Damage, never from Next) means a damaged
	// pcap record header was stepped over: the frames returned are whole,
	// but the damaged record and any bytes up to the next plausible record
	// header were skipped. It is a warning, not a failure.
	ErrResynced = errors.New("capture: resynchronised past a damaged record header")
	// ErrLinkType means a file declares a link type no capture file format
	// defines (such as sipscope's internal HEP pseudo link type).
	ErrLinkType = errors.New("capture: link type not defined for capture files")
	// ErrHEPConfig means a HEPConfig field is invalid; the error names it.
	ErrHEPConfig = errors.New("capture: invalid HEP listener config")
	// ErrHEPClosed means Run was called on a source that already ran or
	// was closed.
	ErrHEPClosed = errors.New("capture: HEP source already ran or was closed")
	// ErrLiveConfig means a LiveConfig field is invalid; the error names it.
	ErrLiveConfig = errors.New("capture: invalid live capture config")
	// ErrLiveUnsupported means this platform has no AF_PACKET live capture.
	ErrLiveUnsupported = errors.New("capture: live capture needs Linux")
	// ErrNotEthernet means the interface does not frame packets as Ethernet
	// (a tun device, an IP tunnel, InfiniBand), which the filter and the
	// decoders expect of a live source.
	ErrNotEthernet = errors.New("capture: interface is not Ethernet")
	// ErrSpoolConfig means a SpoolConfig field is invalid; the error names it.
	ErrSpoolConfig = errors.New("capture: invalid spool config")
)
