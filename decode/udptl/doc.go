// Package udptl decodes UDPTL, the UDP transport of T.38 fax (ITU-T T.38
// §9.1): a sequence number, the primary IFP packet and what recovers lost
// ones. It sits beside decode/rtp: the pipeline hands it the datagrams of a
// flow that SDP moved to m=image udptl t38, and counts packets, loss and
// duplicates by the sequence number. The view points into the datagram.
package udptl
