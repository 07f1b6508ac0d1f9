package api_test

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/sipscope/sipscope/api"
	"github.com/sipscope/sipscope/correlate"
	"github.com/sipscope/sipscope/quality"
	"github.com/sipscope/sipscope/storage"
)

// TestRegistrationsAndStreamsAreListedFromTheStore writes registrations
// and an unbound stream next to the call fixtures in a real store and
// reads them through the API.
func TestRegistrationsAndStreamsAreListedFromTheStore(t *testing.T) {
	st := openStore(t, fixtures())
	regID := "reg-7/x+y@192.0.2.10"
	b := storage.Batch{
		Registrations: []correlate.Registration{
			{CallID: regID, AoR: "sip:alice@example.com", Challenged: true, FinalCode: 200, Start: baseTime, End: baseTime.Add(40 * time.Millisecond),
				Messages: 4, SrcIP: netip.MustParseAddr("192.0.2.10"), Contact: "sip:alice@192.0.2.10:5060", Expires: 600,
				UserAgent: "Linphone/5.2", Attempts: 2, SucceededAt: baseTime.Add(40 * time.Millisecond)},
			{CallID: "reg-8@scanner", AoR: "sip:100@example.com", FinalCode: 403, Start: baseTime.Add(time.Minute),
				End: baseTime.Add(time.Minute), Messages: 2, SrcIP: netip.MustParseAddr("203.0.113.66"), Expires: -1,
				UserAgent: "friendly-scanner", Attempts: 1, Failed: true},
		},
		Messages: []correlate.Message{
			{TS: baseTime, Src: netip.MustParseAddrPort("192.0.2.10:5060"), Dst: netip.MustParseAddrPort("192.0.2.1:5060"),
				Transport: "udp", CallID: regID, IsRequest: true, Method: "REGISTER", CSeq: 1, CSeqMethod: "REGISTER",
				Raw: []byte("REGISTER sip:example.com SIP/2.0\r\nCall-ID: " + regID + "\r\n\r\n")},
		},
		Streams: []quality.Stream{{SSRC: 0xCAFE, Src: netip.MustParseAddrPort("10.0.0.1:7078"), Dst: netip.MustParseAddrPort("10.0.0.2:7078"),
			Payload: "g722", PayloadType: 9, Start: baseTime.Add(3 * time.Hour), End: baseTime.Add(3*time.Hour + time.Minute), Packets: 3000, Expected: 3000}},
	}
	if err := st.Write(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, st)

	var regs api.RegistrationListView
	getJSON(t, srv, "/api/v1/registrations", http.StatusOK, &regs)
	if regs.Total != 2 || len(regs.Registrations) != 2 || regs.Registrations[0].CallID != "reg-8@scanner" {
		t.Fatalf("registrations %+v", regs)
	}
	want := api.RegistrationView{CallID: regID, AoR: "sip:alice@example.com", Contact: "sip:alice@192.0.2.10:5060", SrcIP: "192.0.2.10",
		UserAgent: "Linphone/5.2", Result: "ok", FinalCode: 200, Attempts: 2, Challenged: true, Expires: 600,
		Start: "2024-03-05T10:20:30.123456Z", End: "2024-03-05T10:20:30.163456Z", Succeeded: "2024-03-05T10:20:30.163456Z", Messages: 4}
	if regs.Registrations[1] != want {
		t.Errorf("registration\n%+v\nwant\n%+v", regs.Registrations[1], want)
	}
	getJSON(t, srv, "/api/v1/registrations?result=failed&user_agent=scanner", http.StatusOK, &regs)
	if regs.Total != 1 || regs.Registrations[0].Result != "failed" || regs.Registrations[0].Expires != -1 {
		t.Errorf("failed registrations %+v", regs)
	}
	var detail api.RegistrationDetailView
	getJSON(t, srv, "/api/v1/registrations/"+url.PathEscape(regID), http.StatusOK, &detail)
	if len(detail.Registrations) != 1 || len(detail.Messages) != 1 || detail.Messages[0].Method != "REGISTER" {
		t.Errorf("detail %+v", detail)
	}
	var body struct{ Error, Param string }
	getJSON(t, srv, "/api/v1/registrations/"+url.PathEscape("nope@x"), http.StatusNotFound, &body)
	getJSON(t, srv, "/api/v1/registrations?challenged=perhaps", http.StatusBadRequest, &body)
	if body.Param != "challenged" {
		t.Errorf("bad challenged: %+v", body)
	}

	var streams api.StreamListView
	getJSON(t, srv, "/api/v1/streams", http.StatusOK, &streams)
	if streams.Total != 3 || streams.Streams[0].Payload != "g722" || streams.Streams[0].CallID != "" {
		t.Fatalf("streams %+v", streams)
	}
	for q, wantN := range map[string]int{
		"unbound=true": 1, "ssrc=0x1A2B3C4D": 1, "ssrc=48879": 1, "call_id=" + url.QueryEscape(answeredID): 2,
		"ip=10.0.0.2&port=7078": 1, "codec=G711U": 2, "loss_above=0.3": 1, "loss_above=0.5": 0, "mos_below=4.3": 1,
	} {
		getJSON(t, srv, "/api/v1/streams?"+q, http.StatusOK, &streams)
		if streams.Total != wantN || len(streams.Streams) != wantN {
			t.Errorf("?%s: %d streams (total %d), want %d", q, len(streams.Streams), streams.Total, wantN)
		}
	}
	getJSON(t, srv, "/api/v1/streams?unbound=true&call_id=x", http.StatusBadRequest, &body)
	getJSON(t, srv, "/api/v1/streams?mos_below=NaN", http.StatusBadRequest, &body)
	if body.Param != "mos_below" {
		t.Errorf("NaN mos_below: %+v", body)
	}
}
