package alert

import (
	"net/netip"
	"testing"
	"time"

	"github.com/sipscope/sipscope/decode/sip"
)

// FuzzOnSIP feeds any message the SIP parser accepts, from any address at
// any time: the engine must not panic, and its tables stay within their
// caps.
func FuzzOnSIP(f *testing.F) {
	for _, m := range append(steadyMessages(f), ordinaryMessages(f)...) {
		f.Add(m.Raw, int64(0), uint32(0x0a000001))
	}
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a\r\nFrom: <sip:a>\r\nTo: <sip:b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nUser-Agent: FRIENDLY-SCANNER\r\n\r\n"), int64(-5), uint32(1))
	cfg := Config{MaxKeys: 4}.WithDefaults()
	eng, err := New(cfg, Options{})
	if err != nil {
		f.Fatal(err)
	}
	var m sip.Message
	ts := t0.UnixNano()
	f.Fuzz(func(t *testing.T, raw []byte, dt int64, ip uint32) {
		if m.Unmarshal(raw) != nil {
			return
		}
		ts += dt % int64(time.Hour)
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), 5060)
		eng.OnSIP(ts, src, ap(registrar), &m)
		eng.OnSIP(ts, ap(registrar), src, &m)
		if eng.scan.keys.len() > cfg.MaxKeys || eng.auth.bySrc.len() > cfg.MaxKeys || eng.auth.byAoR.len() > cfg.MaxKeys {
			t.Fatal("a table grew past its cap")
		}
	})
}
