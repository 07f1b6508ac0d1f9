package correlate

import (
	"net/netip"
	"time"
)

// callState is what a dialog accumulates of its Call, message by message.
// The rest of a Call (state, end reason, timings, moments, what diagnose
// adds) is derived when the record is built, so a dialog does not carry
// room for it: a full table of dialogs stays within the memory that
// MaxDialogs was sized for.
type callState struct {
	CallID                   string
	FromUser, ToUser         string
	SrcIP, DstIP             netip.Addr
	FinalCode                int
	Start                    time.Time
	Q850Cause                int
	ReasonHeader             string
	Retransmissions          int
	ReInvites                int
	Hold, Forked             bool
	UserAgent                string
	XCallID                  string
	LinkedCallIDs            []string
	InfoDTMF                 string
	CallerMedia, CalleeMedia SDPMedia
	OfferFormats             string
	Fax                      string
}

// fill starts a record from the accumulated state; every other field of
// call is reset.
func (s *callState) fill(call *Call) {
	*call = Call{
		CallID: s.CallID, FromUser: s.FromUser, ToUser: s.ToUser, SrcIP: s.SrcIP, DstIP: s.DstIP,
		FinalCode: s.FinalCode, Start: s.Start, Q850Cause: s.Q850Cause, ReasonHeader: s.ReasonHeader,
		Retransmissions: s.Retransmissions, ReInvites: s.ReInvites, Hold: s.Hold, Forked: s.Forked,
		UserAgent: s.UserAgent, XCallID: s.XCallID, LinkedCallIDs: s.LinkedCallIDs, InfoDTMF: s.InfoDTMF,
		CallerMedia: s.CallerMedia, CalleeMedia: s.CalleeMedia, OfferFormats: s.OfferFormats,
		Fax: s.Fax,
	}
}
