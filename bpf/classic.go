package bpf

import (
	"fmt"

	cbpf "golang.org/x/net/bpf"
)

// classicKeep is what the classic program returns for a kept packet: the
// byte count to keep, as large as tcpdump's so the snap length is applied in
// one place (user space).
const classicKeep = 262144

// ClassicFilter returns a classic BPF program for SO_ATTACH_FILTER, for when
// the kernel refuses the eBPF filter. Classic BPF cannot look for a SIP
// token at a variable offset, so it keeps a superset: every IPv4/IPv6 packet
// carrying UDP, TCP, SCTP or a tunnel (GRE, IP-in-IP), every IPv4 fragment and every IPv6 packet with
// extension headers (which classic BPF cannot walk), behind up to two VLAN
// tags. It keeps everything the eBPF filter keeps (a fuzz test checks that);
// ARP, ICMP, routing protocols and the like are still dropped in the kernel.
func ClassicFilter() ([]cbpf.RawInstruction, error) {
	prog, err := link(classicProgram())
	if err != nil {
		return nil, err
	}
	raw, err := cbpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("bpf: assemble classic filter: %w", err)
	}
	return raw, nil
}

// step is one instruction of the classic program; conditional jumps name
// their targets by label so the program reads top to bottom.
type step struct {
	label string
	ins   cbpf.Instruction
	yes   string // JumpIf true / Jump target
	no    string // JumpIf false target; empty means the next step
}

func classicProgram() []step {
	const (
		etherTypeOff = 12
		tagLen       = 4
	)
	isTag := func(from string) []step {
		return []step{
			{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 0x8100}, yes: from},
			{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 0x88a8}, yes: from},
			{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 0x9100}, yes: from},
			{ins: cbpf.Jump{}, yes: "l3"},
		}
	}
	var p []step
	// A = EtherType after the tags, X = offset of the IP header.
	p = append(p,
		step{ins: cbpf.LoadConstant{Dst: cbpf.RegX, Val: etherTypeOff + 2}},
		step{ins: cbpf.LoadAbsolute{Off: etherTypeOff, Size: 2}},
	)
	p = append(p, isTag("tag1")...)
	p = append(p,
		step{label: "tag1", ins: cbpf.LoadConstant{Dst: cbpf.RegX, Val: etherTypeOff + 2 + tagLen}},
		step{ins: cbpf.LoadAbsolute{Off: etherTypeOff + tagLen, Size: 2}},
	)
	p = append(p, isTag("tag2")...)
	p = append(p,
		step{label: "tag2", ins: cbpf.LoadConstant{Dst: cbpf.RegX, Val: etherTypeOff + 2 + 2*tagLen}},
		step{ins: cbpf.LoadAbsolute{Off: etherTypeOff + 2*tagLen, Size: 2}},

		step{label: "l3", ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 0x0800}, yes: "ipv4"},
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 0x86dd}, yes: "ipv6"},
		step{ins: cbpf.Jump{}, yes: "drop"},

		// IPv4: any fragment (MF or offset), else the protocol.
		step{label: "ipv4", ins: cbpf.LoadIndirect{Off: 6, Size: 2}},
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpBitsSet, Val: 0x3fff}, yes: "keep"},
		step{ins: cbpf.LoadIndirect{Off: 9, Size: 1}},
		step{ins: cbpf.Jump{}, yes: "l4"},

		// IPv6: the next header of the fixed header. Classic BPF cannot walk
		// extension headers, so any packet that has them is kept whole.
		step{label: "ipv6", ins: cbpf.LoadIndirect{Off: 6, Size: 1}},
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 0}, yes: "keep"},  // hop-by-hop options
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 43}, yes: "keep"}, // routing
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 44}, yes: "keep"}, // fragment
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 51}, yes: "keep"}, // authentication
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 60}, yes: "keep"}, // destination options

		step{label: "l4", ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 17}, yes: "keep"}, // UDP
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 6}, yes: "keep"},               // TCP
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 132}, yes: "keep"},             // SCTP
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 47}, yes: "keep"},              // GRE, ERSPAN
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 4}, yes: "keep"},               // IPv4 in IP
		step{ins: cbpf.JumpIf{Cond: cbpf.JumpEqual, Val: 41}, yes: "keep"},              // IPv6 in IP
		step{label: "drop", ins: cbpf.RetConstant{Val: 0}},
		step{label: "keep", ins: cbpf.RetConstant{Val: classicKeep}},
	)
	return p
}

// link resolves the labels of steps into the relative skips of classic BPF,
// which only jumps forward.
func link(steps []step) ([]cbpf.Instruction, error) {
	at := make(map[string]int, len(steps))
	for i, s := range steps {
		if s.label != "" {
			at[s.label] = i
		}
	}
	skip := func(from int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		to, ok := at[label]
		if !ok || to <= from || to-from-1 > 255 {
			return 0, fmt.Errorf("bpf: classic filter: bad jump from %d to %q", from, label)
		}
		return uint8(to - from - 1), nil
	}
	out := make([]cbpf.Instruction, len(steps))
	for i, s := range steps {
		switch ins := s.ins.(type) {
		case cbpf.JumpIf:
			yes, err := skip(i, s.yes)
			if err != nil {
				return nil, err
			}
			no, err := skip(i, s.no)
			if err != nil {
				return nil, err
			}
			ins.SkipTrue, ins.SkipFalse = yes, no
			out[i] = ins
		case cbpf.Jump:
			n, err := skip(i, s.yes)
			if err != nil {
				return nil, err
			}
			ins.Skip = uint32(n)
			out[i] = ins
		default:
			out[i] = s.ins
		}
	}
	return out, nil
}
