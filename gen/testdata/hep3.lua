-- A small HEPv3 dissector for the generator's tshark oracle: tshark 4.0 has
-- none built in. It walks the chunks of a HEPv3 packet on UDP port 9060,
-- shows the capture node id and the addresses the agent saw, and hands the
-- payload chunk to the SIP dissector, so `-Y sip` counts what HEP carried.
-- Written for sipscope's tests; load with tshark -X lua_script:hep3.lua.

local hep3 = Proto("hep3gen", "HEPv3 (sipscope test dissector)")

local f_node    = ProtoField.uint32("hep3gen.node_id", "Capture node id")
local f_proto   = ProtoField.uint8("hep3gen.ip_proto", "IP protocol")
local f_src4    = ProtoField.ipv4("hep3gen.src_ip", "Source IPv4")
local f_dst4    = ProtoField.ipv4("hep3gen.dst_ip", "Destination IPv4")
local f_src6    = ProtoField.ipv6("hep3gen.src_ip6", "Source IPv6")
local f_dst6    = ProtoField.ipv6("hep3gen.dst_ip6", "Destination IPv6")
local f_sport   = ProtoField.uint16("hep3gen.src_port", "Source port")
local f_dport   = ProtoField.uint16("hep3gen.dst_port", "Destination port")
local f_sec     = ProtoField.uint32("hep3gen.ts_sec", "Timestamp seconds")
local f_usec    = ProtoField.uint32("hep3gen.ts_usec", "Timestamp microseconds")
local f_type    = ProtoField.uint8("hep3gen.proto_type", "Payload type")
hep3.fields = { f_node, f_proto, f_src4, f_dst4, f_src6, f_dst6, f_sport, f_dport, f_sec, f_usec, f_type }

-- Generic (vendor 0) chunk types and the field each fills.
local chunk_fields = {
    [0x0002] = f_proto, [0x0003] = f_src4, [0x0004] = f_dst4,
    [0x0005] = f_src6, [0x0006] = f_dst6, [0x0007] = f_sport,
    [0x0008] = f_dport, [0x0009] = f_sec, [0x000a] = f_usec,
    [0x000b] = f_type, [0x000c] = f_node,
}
local chunk_payload = 0x000f

local sip = Dissector.get("sip")

function hep3.dissector(buf, pinfo, tree)
    if buf:len() < 6 or buf(0, 4):string() ~= "HEP3" then
        return 0
    end
    local total = buf(4, 2):uint()
    if total > buf:len() then
        return 0
    end
    local t = tree:add(hep3, buf(0, total))
    local payload
    local off = 6
    while off + 6 <= total do
        local vendor = buf(off, 2):uint()
        local typ = buf(off + 2, 2):uint()
        local len = buf(off + 4, 2):uint()
        if len < 6 or off + len > total then
            break
        end
        if vendor == 0 then
            local field = chunk_fields[typ]
            if field then
                t:add(field, buf(off + 6, len - 6))
            elseif typ == chunk_payload then
                payload = buf(off + 6, len - 6)
            end
        end
        off = off + len
    end
    pinfo.cols.protocol = "HEP3"
    if payload then
        sip:call(payload:tvb(), pinfo, tree)
    end
    return total
end

DissectorTable.get("udp.port"):add(9060, hep3)
