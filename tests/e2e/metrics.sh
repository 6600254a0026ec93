#!/bin/sh
# `parapet metrics` against a real partition (counter guest): parapet
# does not load libmicrohttpd, bad flags and a port in use fail clearly,
# the exposition passes promtool in the 0.0.4 text format and is
# OpenMetrics when asked, a servicing shows in the blackout histogram
# and the restarts, Debian's Prometheus scrapes it (OpenMetrics, as it
# asks) every second and answers parapet_vm_up{vm="mt1"} == 1, and
# SIGTERM stops the exporter with status 0.
. "$(dirname "$0")/lib_partition.sh"

COUNTER=$B/guests/counter.igvm
[ -f "$COUNTER" ] || fail "missing $COUNTER (make all)"
[ -x "$B/bin/parapet-metrics" ] || fail "missing $B/bin/parapet-metrics"
for b in parapet-policy parapet-hostcomm parapet-vmworker parapet-diagd; do
	[ -x "$B/bin/$b" ] || skip "$b not built yet: no default partition"
done
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
	skip "prometheus not installed (Debian's prometheus; make deps)"
command -v curl >/dev/null || skip "curl missing (make deps)"
command -v jq >/dev/null || skip "jq missing (make deps)"

MPID=""
PROMPID=""
metrics_cleanup() {
	for p in $MPID $PROMPID; do
		kill -TERM "$p" 2>/dev/null
		wait_exit "$p" 100 || kill -KILL "$p" 2>/dev/null
	done
	cleanup
}
trap metrics_cleanup EXIT

# parapet run must not link (or load) the HTTP server's library
if ldd "$P" | grep -q microhttpd; then
	fail "$P depends on libmicrohttpd"
fi
ldd "$B/bin/parapet-metrics" | grep -q microhttpd ||
	fail "parapet-metrics does not link libmicrohttpd"

# usage: exit 2 with a reason, --help 0
"$P" metrics --help | grep -q -- "--listen ADDR:PORT" || fail "--help"
for bad in "" "--listen" "--listen 127.0.0.1" "--listen 127.0.0.1:0" \
	"--listen 127.0.0.1:99999" "--listen ::1:80" "--listen 999.1.1.1:80" \
	"--listen localhost:80" \
	"--bogus"; do
	# shellcheck disable=SC2086
	"$P" metrics $bad 2>"$T/bad.err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "metrics $bad: exit $rc, want 2"
	grep -q "^parapet metrics: " "$T/bad.err" ||
		fail "metrics $bad: no reason: $(cat "$T/bad.err")"
done

start mt1 --guest-cmdline delay_ms=50 "$COUNTER" >"$T/mt1.out"

# a free port: the exporter says so when one is taken
metrics_started() {
	grep -q "serving http" "$T/metrics.err" || exited "$MPID"
}
port=""
for try in 0 1 2 3 4 5 6 7; do
	p=$((20000 + ($$ * 7 + try * 131) % 20000))
	"$P" metrics --listen "127.0.0.1:$p" 2>"$T/metrics.err" &
	MPID=$!
	wait_until 300 metrics_started || fail "metrics on $p: no word"
	if grep -q "serving http" "$T/metrics.err"; then
		port=$p
		break
	fi
	wait "$MPID"
	MPID=""
	grep -q "Address already in use" "$T/metrics.err" ||
		fail "metrics on $p: $(cat "$T/metrics.err")"
done
[ -n "$port" ] || fail "no free port for parapet metrics"
URL=http://127.0.0.1:$port/metrics

"$P" metrics --listen "127.0.0.1:$port" 2>"$T/busy.err"
rc=$?
[ "$rc" -eq 1 ] && grep -q "127.0.0.1:$port: Address already in use" \
	"$T/busy.err" || fail "port in use: exit $rc: $(cat "$T/busy.err")"

# scrape: until diagd answers and the guest has printed
scrape() { curl -sf "$@" "$URL" >"$T/scrape"; }
has() { grep -q -- "$1" "$T/scrape"; }
vm_running() {
	scrape && has '^parapet_vm_up{vm="mt1"} 1$' &&
		has '^parapet_vm_diag_up{vm="mt1"} 1$' &&
		has '^parapet_vm_console_bytes_total{vm="mt1"} [1-9]'
}
wait_until 600 vm_running || fail "mt1 never up in the exposition: $(cat "$T/scrape")"

promtool check metrics <"$T/scrape" >"$T/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(cat "$T/promtool.out")"
curl -sf -D "$T/headers" -o /dev/null "$URL" || fail "curl $URL"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/headers" ||
	fail "0.0.4 Content-Type: $(cat "$T/headers")"
for m in 'parapet_vm_state{vm="mt1",state="running"} 1' \
	'parapet_service_up{vm="mt1",service="vmworker"} 1' \
	'parapet_ipc_calls_total{vm="mt1",service="vmworker"} [1-9]' \
	'parapet_vp_exits_total{vm="mt1",vp="0",kind="pio"} [1-9]' \
	'# HELP parapet_vm_uptime_seconds ' \
	'# TYPE parapet_ipc_errors_total counter'; do
	has "^$m" || fail "exposition lacks $m"
done
! has '# EOF' || fail "0.0.4 text with # EOF"

# OpenMetrics when asked: its Content-Type, family names, # EOF last
OM='application/openmetrics-text;version=1.0.0'
curl -sf -H "Accept: $OM" -D "$T/headers" "$URL" >"$T/om" || fail "curl OM"
grep -qi '^Content-Type: application/openmetrics-text; version=1.0.0' \
	"$T/headers" || fail "OpenMetrics Content-Type: $(cat "$T/headers")"
[ "$(tail -n 1 "$T/om")" = "# EOF" ] || fail "OpenMetrics without # EOF"
grep -q '^# TYPE parapet_vm_console_bytes counter$' "$T/om" ||
	fail "OpenMetrics counter family"

# a servicing: one blackout observed, vmworker restarted once
"$P" ctl mt1 service >"$T/service.out" 2>&1 || fail "service: $(cat "$T/service.out")"
serviced() {
	scrape &&
		has '^parapet_servicing_blackout_seconds_count{vm="mt1"} 1$' &&
		has '^parapet_service_restarts_total{vm="mt1",service="vmworker"} 1$'
}
wait_until 300 serviced || fail "servicing not in the exposition: $(grep -e blackout_seconds_count -e restarts "$T/scrape"); timeline.json's servicings: $(jq -c .servicing "$RUNBASE/mt1/timeline.json")"
has '^parapet_servicing_blackout_seconds_bucket{vm="mt1",le="+Inf"} 1$' ||
	fail "blackout +Inf bucket"

# Prometheus scrapes it every second (asking for OpenMetrics)
pport=""
for try in 0 1 2 3 4 5 6 7; do
	p=$((40000 + ($$ * 11 + try * 173) % 20000))
	ss -ltn 2>/dev/null | grep -q "127.0.0.1:$p " && continue
	pport=$p
	break
done
[ -n "$pport" ] || fail "no free port for prometheus"
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: parapet
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
mkdir "$T/tsdb"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$pport" >"$T/prometheus.log" 2>&1 &
PROMPID=$!
API=http://127.0.0.1:$pport/api/v1
prom_query() {
	curl -sf "$API/query" --data-urlencode "query=$1" >"$T/query" &&
		json_is '.data.result[0].value[1] == "1"' "$T/query"
}
wait_until 1200 prom_query 'parapet_vm_up{vm="mt1"}' || {
	tail -n 20 "$T/prometheus.log"
	curl -s "$API/targets" | head -c 2000
	fail "Prometheus: no parapet_vm_up{vm=\"mt1\"} == 1: $(cat "$T/query" 2>/dev/null)"
}
curl -sf "$API/targets" >"$T/targets" || fail "targets API"
json_is '.data.activeTargets[0].health == "up" and
	.data.activeTargets[0].lastError == ""' "$T/targets" ||
	fail "target not healthy: $(cat "$T/targets")"
prom_query 'parapet_servicing_blackout_seconds_count{vm="mt1"}' ||
	fail "Prometheus: blackout histogram: $(cat "$T/query")"

# SIGTERM: the exporter stops cleanly
kill -TERM "$MPID"
wait "$MPID"
rc=$?
MPID=""
[ "$rc" -eq 0 ] || fail "parapet metrics after SIGTERM: exit $rc"
grep -q "stopping" "$T/metrics.err" || fail "no stop message: $(cat "$T/metrics.err")"

stop_run mt1
[ "$RC" -eq 143 ] || fail "mt1: exit $RC after SIGTERM, want 143"
echo "metrics: ok"
