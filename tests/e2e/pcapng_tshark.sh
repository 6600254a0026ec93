#!/bin/sh
# tshark reads the pcapng that lib/pcapng writes, decodes the envelopes
# with proto/ (the command lines documented in lib/pcapng.h), and with the
# generated Lua dissector decodes typed bodies too.
set -u
B=${BUILD:-build}
here=$(cd "$(dirname "$0")/../.." && pwd)
proto="$here/proto"
writer="$here/$B/tests/pcapng_write"
command -v tshark >/dev/null 2>&1 || { echo "tshark not installed"; exit 77; }
[ -x "$writer" ] || { echo "missing $writer (make BUILD=$B all)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
ts() { tshark "$@" 2>"$dir/err" || { cat "$dir/err"; fail "tshark $*"; }; }

"$writer" "$dir/a.pcapng" "$dir/parapet.lua" || fail "writer (stream)"
"$writer" - >"$dir/b.pcapng" || fail "writer (fd)"
cmp -s "$dir/a.pcapng" "$dir/b.pcapng" || fail "stream and fd captures differ"

# Plain read: 5 packets, IPv4 checksums good, UDP ports per service.
n=$(ts -r "$dir/a.pcapng" | wc -l)
[ "$n" -eq 5 ] || fail "expected 5 packets, got $n"
good=$(ts -r "$dir/a.pcapng" -o ip.check_checksum:TRUE \
	-T fields -e ip.checksum.status | grep -c '^1$')
[ "$good" -eq 5 ] || fail "IPv4 checksums: $good of 5 good"
ports=$(ts -r "$dir/a.pcapng" -T fields -e udp.srcport -e udp.dstport |
	tr '\t\n' ',,')
[ "$ports" = "30001,30003,30003,30001,30004,30000,30002,30009,30003,30004," ] ||
	fail "ports: $ports"
comment=$(ts -r "$dir/a.pcapng" -T fields -e frame.comment -c 1)
[ "$comment" = "typed body: PingRequest" ] || fail "comment: $comment"

# Envelope fields decoded from proto/ (one UAT entry for the port range).
ts -r "$dir/a.pcapng" -V \
	-o "uat:protobuf_search_paths:\"$proto\",\"TRUE\"" \
	-o 'uat:protobuf_udp_message_types:"30000-30009","parapet.Envelope"' \
	>"$dir/v.txt"
for want in 'Message: parapet.Envelope' 'method = Ping (string)' \
	'kind = ERROR(3) (enum)' 'source = hostcomm (string)' \
	'Value: 120568656c6c6f'; do
	grep -qF "$want" "$dir/v.txt" || fail "no '$want' in tshark -V"
done
[ "$(grep -c 'Message: parapet.Envelope' "$dir/v.txt")" -eq 5 ] ||
	fail "not every packet decoded as parapet.Envelope"

# Typed bodies through the generated Lua dissector.
ts -r "$dir/a.pcapng" -V -X "lua_script:$dir/parapet.lua" \
	-o "uat:protobuf_search_paths:\"$proto\",\"TRUE\"" \
	-o protobuf.pbf_as_hf:TRUE >"$dir/l.txt"
for want in 'Message: parapet.PingRequest' 'Message: parapet.PingReply' \
	'served_by: 3' 'Message: parapet.Error' 'message: unknown method' \
	'Message: parapet.Counter' 'value: 42'; do
	grep -qF "$want" "$dir/l.txt" || fail "no '$want' with the Lua dissector"
done
echo "tshark decoded 5 envelopes and their typed bodies"
