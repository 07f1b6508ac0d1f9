package quality

import (
	"net/netip"

	"github.com/sipscope/sipscope/capture/oracle"
)

// The tshark rtp,streams tables (the oracle files in shared/captures and
// the golden files of the synthetic scenarios) are read by capture/oracle.

type oracleStream = oracle.Stream

type streamKey struct {
	Src, Dst netip.AddrPort
	SSRC     uint32
}

func oracleKey(o oracleStream) streamKey { return streamKey{o.Src, o.Dst, o.SSRC} }

// parseRTPStreams returns every row of every rtp,streams table in text.
func parseRTPStreams(text string) ([]oracleStream, error) {
	f, err := oracle.Parse(text)
	if err != nil {
		return nil, err
	}
	return f.Streams, nil
}
