package correlate

import (
	"hash/maphash"

	"github.com/sipscope/sipscope/decode/sip"
)

// method is a SIP method as a small number (sip.Method), so the hot path
// compares bytes once and counts in arrays.
type method = sip.Method

const (
	methodOther     = sip.MethodOther
	methodInvite    = sip.MethodInvite
	methodAck       = sip.MethodAck
	methodBye       = sip.MethodBye
	methodCancel    = sip.MethodCancel
	methodPrack     = sip.MethodPrack
	methodUpdate    = sip.MethodUpdate
	methodRegister  = sip.MethodRegister
	methodOptions   = sip.MethodOptions
	methodMessage   = sip.MethodMessage
	methodSubscribe = sip.MethodSubscribe
	methodNotify    = sip.MethodNotify
	methodInfo      = sip.MethodInfo
	methodRefer     = sip.MethodRefer
	methodPublish   = sip.MethodPublish
	numMethods      = sip.NumMethods
)

func parseMethod(b []byte) method { return sip.ParseMethod(b) }

// maxTxns is how many recent transactions a dialog remembers for
// retransmission detection. A call needs about four (INVITE, its ACK or
// CANCEL, the 2xx ACK, BYE); older ones are overwritten, so a
// retransmission of a long-gone transaction would count as new.
const maxTxns = 6

// maxResponses is how many distinct responses a transaction remembers.
const maxResponses = 3

// txn is one client/server transaction pair as a passive observer sees it
// (RFC 3261 §17.1.3, §17.2.3): the top Via branch, the CSeq number and the
// method. CANCEL shares the INVITE's branch but is its own transaction; an
// ACK to a non-2xx final belongs to the INVITE transaction, an ACK to a 2xx
// is a transaction of its own.
type txn struct {
	branch   uint32 // hash of the top Via branch
	cseq     uint32
	method   method
	requests uint16 // copies of the request seen
	acks     uint16 // copies of the ACK to a non-2xx final (INVITE only)
	final    uint16 // final status code, 0 until seen
	nresp    uint8
	resp     [maxResponses]uint32 // fingerprints of the distinct responses seen
}

// txnTable is a dialog's ring of recent transactions.
type txnTable struct {
	t    [maxTxns]txn
	n    uint8 // entries in use
	next uint8 // slot the next new transaction overwrites once full
}

func (tt *txnTable) find(branch uint32, cseq uint32, m method) *txn {
	for i := 0; i < int(tt.n); i++ {
		t := &tt.t[i]
		if t.branch == branch && t.cseq == cseq && t.method == m {
			return t
		}
	}
	return nil
}

func (tt *txnTable) add(branch uint32, cseq uint32, m method) *txn {
	var t *txn
	if int(tt.n) < maxTxns {
		t = &tt.t[tt.n]
		tt.n++
	} else {
		t = &tt.t[tt.next]
		tt.next = (tt.next + 1) % maxTxns
	}
	*t = txn{branch: branch, cseq: cseq, method: m}
	return t
}

// observe matches m to its transaction and tells whether it is a copy of a
// message already seen (a retransmission, or the same packet captured on
// two interfaces). A retransmitted request has the transaction's branch,
// CSeq and method; a retransmitted response also has the same status,
// To tag and length.
func (tt *txnTable) observe(seed maphash.Seed, m *sip.Message, meth, cseqMeth method) (t *txn, retrans bool) {
	branch := uint32(maphash.Bytes(seed, m.ViaBranch))
	if m.IsRequest {
		if meth == methodAck {
			// An ACK to a non-2xx final completes the INVITE transaction.
			if inv := tt.find(branch, m.CSeq, methodInvite); inv != nil && inv.final >= 300 {
				inv.acks++
				return inv, inv.acks > 1
			}
		}
		if t = tt.find(branch, m.CSeq, meth); t == nil {
			t = tt.add(branch, m.CSeq, meth)
		}
		t.requests++
		return t, t.requests > 1
	}
	if t = tt.find(branch, m.CSeq, cseqMeth); t == nil {
		// The request was not captured (or has been forgotten).
		t = tt.add(branch, m.CSeq, cseqMeth)
	}
	fp := responseFingerprint(seed, m)
	for i := 0; i < int(t.nresp); i++ {
		if t.resp[i] == fp {
			return t, true
		}
	}
	if int(t.nresp) < maxResponses {
		t.resp[t.nresp] = fp
		t.nresp++
	} else {
		t.resp[maxResponses-1] = fp
	}
	if m.StatusCode >= 200 && t.final == 0 {
		t.final = uint16(m.StatusCode)
	}
	return t, false
}

// responseFingerprint tells distinct responses of one transaction apart:
// two 183s with different SDP differ in length, a 200 from another fork
// differs in its To tag.
func responseFingerprint(seed maphash.Seed, m *sip.Message) uint32 {
	h := maphash.Bytes(seed, m.ToTag)
	h ^= uint64(m.StatusCode)<<48 ^ uint64(len(m.Raw))<<16
	h *= 0x9e3779b97f4a7c15
	return uint32(h >> 32)
}
