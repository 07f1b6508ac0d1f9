// Package sip decodes SIP messages (RFC 3261) into a reusable Message view
// whose fields point into the packet bytes, without allocating. It sits in
// the decode stage between transport reassembly (which hands it UDP
// datagrams or, through FrameLength, TCP frames) and correlate, which
// copies what it keeps and builds transactions, dialogs and calls.
package sip
