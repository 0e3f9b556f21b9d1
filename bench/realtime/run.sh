#!/usr/bin/env bash
# Realtime (SSE) benchmark: redifx's one-subscription-per-process hub against
# the per-connection-subscription design (bench/realtime/perconn), side by side
# in one run, on loopback.
#
#   A  redifx:  CLIENTS streams (default 10,000) over TENANTS tenants (100); the
#               first tenant has HOT clients (1,000), the rest share the others
#   B  perconn: BASE_CLIENTS streams (1,000), one tenant
#
# Both servers run at once, each on its own fresh redis-server, so Redis
# figures are per design. Measured per server: Redis connections it holds
# (CLIENT LIST, by client name; pub/sub ones), RSS before and after its clients
# connected (VmRSS), Redis used_memory before and after; then ROUNDS latency
# rounds, alternating which design goes first: EVENTS events published to the
# hot tenant ~20 ms apart, publish-to-receive latency at each of its clients.
#
# Usage: bench/realtime/run.sh        (from anywhere; `make bench` calls it)
# Environment (defaults):
#   CLIENTS=10000 TENANTS=100 HOT=1000 BASE_CLIENTS=1000 EVENTS=50 ROUNDS=5
#   CONCURRENCY=50   streams being opened at once by the load client
#   SETTLE=5         seconds to wait before each RSS / Redis reading
#   MAX_REALTIME_CONNS=2 MAX_KIB_PER_CLIENT=27   limits that fail the run
#
#   REALTIME__*, REDIS__* …  passed on to redifx (e.g. REALTIME__CLIENT_BUFFER=16)
#
# Both servers run with GODEBUG=gctrace=1 so that garbage collections during the
# latency rounds can be counted.
#
# Writes bench/results/realtime-<date>.txt and prints it. Exits non-zero when
# the Redis connections realtime holds exceed MAX_REALTIME_CONNS, when RSS per
# client exceeds MAX_KIB_PER_CLIENT, or when streams could not be opened.
set -euo pipefail

CLIENTS=${CLIENTS:-10000}
TENANTS=${TENANTS:-100}
HOT=${HOT:-1000}
BASE_CLIENTS=${BASE_CLIENTS:-1000}
EVENTS=${EVENTS:-50}
ROUNDS=${ROUNDS:-5}
CONCURRENCY=${CONCURRENCY:-50}
SETTLE=${SETTLE:-5}
MAX_REALTIME_CONNS=${MAX_REALTIME_CONNS:-2}
MAX_KIB_PER_CLIENT=${MAX_KIB_PER_CLIENT:-27}
GOAL_KIB_PER_CLIENT=20
GOAL_P99_MS=20
SECRET=realtime-bench-secret-0123456789abcdef-0123456789abcdef

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$bench_dir/../.." && pwd)

BENCH=bench/realtime
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redifx-realtime-bench.XXXXXX")
work=$WORK
# shellcheck source=../lib.sh
source "$repo_dir/bench/lib.sh"
die() { bench_die "$@"; }
say() { bench_say "$@"; }
cleanup() {
	exec 5>&- 6>&-
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[i]}" 2>/dev/null || true
	done
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		wait "${PIDS[i]}" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_require go redis-server redis-cli curl jq lscpu

# File descriptors: each of the load client and redifx needs one per stream.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fds=$(ulimit -n)
((CLIENTS + BASE_CLIENTS + 200 <= fds)) ||
	die "ulimit -n is $fds: too low for $CLIENTS + $BASE_CLIENTS streams; lower CLIENTS"

machine=$(bench_machine)
say "machine: $machine"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

say "building redifx, loadclient, perconn"
(cd "$repo_dir" && go build -o "$work/redifx" . &&
	go build -o "$work/loadclient" ./bench/realtime/loadclient &&
	go build -o "$work/perconn" ./bench/realtime/perconn)

free_port() { bench_free_port "$@"; }
# start_redis NAME: a fresh redis-server (bench_start_redis); sets redis_port
# and redis_pid.
start_redis() {
	bench_start_redis "$1"
	redis_port=$REDIS_PORT
	redis_pid=$REDIS_PID
}

wait_http() { # URL PID NAME
	for _ in $(seq 300); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	tail -20 "$work/$3.log" >&2 || true
	die "$3 did not start"
}

clk=$(getconf CLK_TCK)
# cpu_ms PID: user + system CPU time of PID so far, in milliseconds.
cpu_ms() { awk -v clk="$clk" '{ print int(($14 + $15) * 1000 / clk) }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'; }
# clients PORT: CLIENT LIST without this redis-cli's own connection.
clients() { redis-cli -p "$1" client list | tr -d '\r' | grep -v 'cmd=client|list' || true; }
# conn_summary PORT: "total pubsub" connection counts.
conn_counts() { clients "$1" | awk '{ n++; for (i = 1; i <= NF; i++) if ($i ~ /^(sub|psub|ssub)=[1-9]/) { s++; break } } END { print n + 0, s + 0 }'; }
# breakdown PORT: connections by client name and last command.
breakdown() {
	clients "$1" | awk '{
		name = "(no name)"; cmd = "?"; sub_ = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^name=./) name = substr($i, 6)
			if ($i ~ /^cmd=/) cmd = substr($i, 5)
			if ($i ~ /^(sub|psub|ssub)=[1-9]/) sub_ = 1
		}
		n[name]++; c[name, cmd]++; if (sub_) s[name]++
	} END {
		for (k in n) {
			line = sprintf("%s %d", k, n[k])
			if (s[k]) line = line sprintf(" (%d subscribed)", s[k])
			line = line ": last command"
			sep = " "
			for (kc in c) { split(kc, p, SUBSEP); if (p[1] == k) { line = line sep p[2] "=" c[kc]; sep = ", " } }
			print line
		}
	}' | sort
}
# subscriptions PORT: each subscribed channel and its subscriber count.
subscriptions() {
	local ch
	redis-cli -p "$1" pubsub channels '*' | while read -r ch; do
		[[ -n $ch ]] && echo "$ch $(redis-cli -p "$1" pubsub numsub "$ch" | sed -n 2p)"
	done | sort
}
named_count() { clients "$1" | grep -c " name=$2 " || true; }

# wait_lines FILE PHASE COUNT PID TIMEOUT: until FILE has COUNT lines of PHASE.
wait_lines() {
	local t=0
	while (($(grep -c "\"phase\":\"$2\"" "$1" || true) < $3)); do
		kill -0 "$4" 2>/dev/null || {
			cat "$1.err" >&2 || true
			die "the load client ($1) exited early"
		}
		((t++ < $5 * 10)) || die "timed out waiting for $2 in $1"
		sleep 0.1
	done
}
# jline FILE PHASE [N]: the Nth (default last) line of PHASE.
jline() { grep "\"phase\":\"$2\"" "$1" | if [[ -n ${3-} ]]; then sed -n "${3}p"; else tail -1; fi; }

start_redis redis-a
port_ra=$redis_port
rpid_a=$redis_pid
start_redis redis-b
port_rb=$redis_port
rpid_b=$redis_pid
port_a=$(free_port)
port_b=$(free_port "$port_a")

say "starting redifx (redis :$port_ra) and perconn (redis :$port_rb)"
env GODEBUG=gctrace=1 ENVIRONMENT=test HTTP__ADDR="127.0.0.1:$port_a" REDIS__URL="redis://127.0.0.1:$port_ra/0" \
	AUTH__JWT_SECRET="$SECRET" REALTIME__MAX_CLIENTS=20000 REALTIME__MAX_CLIENTS_PER_TENANT=20000 \
	LOG__LEVEL=warn "$work/redifx" serve >"$work/redifx.log" 2>&1 &
pid_a=$!
PIDS+=("$pid_a")
GODEBUG=gctrace=1 "$work/perconn" -addr "127.0.0.1:$port_b" -redis "redis://127.0.0.1:$port_rb/0" >"$work/perconn.log" 2>&1 &
pid_b=$!
PIDS+=("$pid_b")
wait_http "http://127.0.0.1:$port_a/health/live" "$pid_a" redifx
wait_http "http://127.0.0.1:$port_b/health" "$pid_b" perconn
sleep "$SETTLE"

rss0_a=$(rss_kib "$pid_a")
rss0_b=$(rss_kib "$pid_b")
mem0_a=$(used_memory "$port_ra")
mem0_b=$(used_memory "$port_rb")
read -r conns0_a _ < <(conn_counts "$port_ra")
read -r conns0_b _ < <(conn_counts "$port_rb")
default0_a=$(named_count "$port_ra" redifx-default)
breakdown0_a=$(breakdown "$port_ra")
say "idle: redifx RSS ${rss0_a} KiB, $conns0_a Redis connections; perconn RSS ${rss0_b} KiB, $conns0_b"

# start_load NAME FD URL ARGS...: a load client in -control mode fed by FIFO FD.
start_load() {
	local name=$1 fd=$2 url=$3
	shift 3
	mkfifo "$work/$name.ctl"
	"$work/loadclient" -control -url "$url" -secret "$SECRET" -events "$EVENTS" \
		-concurrency "$CONCURRENCY" -label "$name" "$@" \
		<"$work/$name.ctl" >"$work/$name.jsonl" 2>"$work/$name.jsonl.err" &
	PIDS+=($!)
	eval "exec $fd>\"\$work/\$name.ctl\""
}

# Scenario A: redifx, CLIENTS streams.
say "redifx: opening $CLIENTS streams over $TENANTS tenants ($HOT in the hot tenant)"
start_load redifx 5 "http://127.0.0.1:$port_a" -clients "$CLIENTS" -tenants "$TENANTS" -hot "$HOT"
lpid_a=${PIDS[-1]}
wait_lines "$work/redifx.jsonl" connected 1 "$lpid_a" 300
sleep "$SETTLE"
rss1_a=$(rss_kib "$pid_a")
mem1_a=$(used_memory "$port_ra")
read -r conns1_a subs1_a < <(conn_counts "$port_ra")
default1_a=$(named_count "$port_ra" redifx-default)
breakdown1_a=$(breakdown "$port_ra")
subs_list_a=$(subscriptions "$port_ra")
rt_subs=$(awk '$1 ~ /realtime:events$/ {s += $2} END {print s + 0}' <<<"$subs_list_a")

# Scenario B: perconn, BASE_CLIENTS streams.
say "perconn: opening $BASE_CLIENTS streams (one tenant)"
start_load perconn 6 "http://127.0.0.1:$port_b" -clients "$BASE_CLIENTS" -tenants 1
lpid_b=${PIDS[-1]}
wait_lines "$work/perconn.jsonl" connected 1 "$lpid_b" 300
sleep "$SETTLE"
rss1_b=$(rss_kib "$pid_b")
mem1_b=$(used_memory "$port_rb")
read -r conns1_b subs1_b < <(conn_counts "$port_rb")

# Latency rounds, alternating which design goes first.
gc_count() { grep -c '^gc ' "$work/$1.log" || true; }
declare -A gcs=([redifx]=0 [perconn]=0) gc_rounds=([redifx]="" [perconn]="")
# CPU time (ms) spent during the rounds by each design's server, redis-server
# and load client.
declare -A cpu=([redifx.server]=0 [redifx.redis]=0 [redifx.load]=0 [perconn.server]=0 [perconn.redis]=0 [perconn.load]=0)
declare -A procs=([redifx.server]=$pid_a [redifx.redis]=$rpid_a [redifx.load]=$lpid_a
	[perconn.server]=$pid_b [perconn.redis]=$rpid_b [perconn.load]=$lpid_b)
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=(redifx perconn); else order=(perconn redifx); fi
	for name in "${order[@]}"; do
		say "latency round $r/$ROUNDS: $name"
		gc_before=$(gc_count "$name")
		declare -A cpu_before=()
		for k in server redis load; do cpu_before[$k]=$(cpu_ms "${procs[$name.$k]}"); done
		if [[ $name == redifx ]]; then
			echo publish >&5
			wait_lines "$work/redifx.jsonl" latency "$r" "$lpid_a" 120
		else
			echo publish >&6
			wait_lines "$work/perconn.jsonl" latency "$r" "$lpid_b" 120
		fi
		for k in server redis load; do
			cpu[$name.$k]=$((cpu[$name.$k] + $(cpu_ms "${procs[$name.$k]}") - cpu_before[$k]))
		done
		n=$(($(gc_count "$name") - gc_before))
		gcs[$name]=$((gcs[$name] + n))
		gc_rounds[$name]+="$n "
	done
done
rss2_a=$(rss_kib "$pid_a")
rss2_b=$(rss_kib "$pid_b")
hwm_a=$(hwm_kib "$pid_a")
hwm_b=$(hwm_kib "$pid_b")
read -r conns2_a _ < <(conn_counts "$port_ra")
read -r conns2_b _ < <(conn_counts "$port_rb")
echo stats >&5
echo stats >&6
echo quit >&5
echo quit >&6
wait_lines "$work/redifx.jsonl" summary 1 "$lpid_a" 60
wait_lines "$work/perconn.jsonl" summary 1 "$lpid_b" 60

# Figures.
f() { jq -r ".$3 // 0" <<<"$(jline "$work/$1.jsonl" "$2")"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
conn_a=$(f redifx connected connected)
conn_b=$(f perconn connected connected)
((conn_a > 0 && conn_b > 0)) || die "no streams opened (redifx $conn_a, perconn $conn_b); see the logs"
kib_a=$(calc %.1f "($rss1_a - $rss0_a) / $conn_a")
kib_b=$(calc %.1f "($rss1_b - $rss0_b) / $conn_b")
rmem_a=$(calc %.0f "($mem1_a - $mem0_a) / $conn_a")
rmem_b=$(calc %.0f "($mem1_b - $mem0_b) / $conn_b")
default_growth=$((default1_a - default0_a))
rt_held=$((rt_subs + default_growth))
per_round() { # NAME FIELD: the field of every latency round, space-separated
	grep '"phase":"latency"' "$work/$1.jsonl" | jq -r ".$2" | paste -sd' ' -
}
lat() { f "$1" summary "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }

mkdir -p "$repo_dir/bench/results"
stamp=$(date +%Y-%m-%d)
out="$repo_dir/bench/results/realtime-$stamp.txt"
fail=()
{
	echo "redifx realtime (SSE) benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "Machine: $machine"
	echo "Load average (1, 5, 15 min) at the start: $load_before; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "Load client on the same machine; loopback; one redis-server per design (no persistence)."
	echo "A redifx:  $CLIENTS streams requested over $TENANTS tenants (hot tenant: $HOT), connect concurrency $CONCURRENCY"
	echo "B perconn: $BASE_CLIENTS streams requested, one tenant (every stream its own SUBSCRIBE)"
	echo "Latency: $ROUNDS rounds x $EVENTS events to the hot tenant, ~20 ms apart, alternating which design goes first;"
	echo "         receive time at the load client minus send time (taken just before the POST), at every hot client"
	echo
	printf '%-44s %16s %16s %14s\n' "" "redifx (A)" "perconn (B)" "A/B"
	row() { printf '%-44s %16s %16s %14s\n' "$1" "$2" "$3" "${4-}"; }
	row "streams open" "$conn_a" "$conn_b"
	row "  connect time (s)" "$(f redifx connected seconds)" "$(f perconn connected seconds)"
	row "Redis connections, before clients" "$conns0_a" "$conns0_b"
	row "Redis connections, clients connected" "$conns1_a" "$conns1_b"
	row "  of which subscribed (pub/sub)" "$subs1_a" "$subs1_b"
	row "  per 1,000 clients" "$(calc %.1f "$conns1_a * 1000 / $conn_a")" "$(calc %.1f "$conns1_b * 1000 / $conn_b")" \
		"$(ratio "$(calc %.4f "$conns1_a / $conn_a")" "$(calc %.4f "$conns1_b / $conn_b")")"
	row "  held by realtime (see below)" "$rt_held" "$conns1_b"
	row "Redis connections after latency rounds" "$conns2_a" "$conns2_b"
	row "server RSS idle (MiB)" "$(calc %.1f "$rss0_a / 1024")" "$(calc %.1f "$rss0_b / 1024")"
	row "server RSS, clients connected (MiB)" "$(calc %.1f "$rss1_a / 1024")" "$(calc %.1f "$rss1_b / 1024")"
	row "server RSS after latency rounds (MiB)" "$(calc %.1f "$rss2_a / 1024")" "$(calc %.1f "$rss2_b / 1024")"
	row "server peak RSS, VmHWM (MiB)" "$(calc %.1f "$hwm_a / 1024")" "$(calc %.1f "$hwm_b / 1024")"
	row "RSS per client above idle (KiB)" "$kib_a" "$kib_b" "$(ratio "$kib_a" "$kib_b")"
	row "RSS per client after latency rounds (KiB)" "$(calc %.1f "($rss2_a - $rss0_a) / $conn_a")" "$(calc %.1f "($rss2_b - $rss0_b) / $conn_b")"
	row "Redis used_memory per client (bytes)" "$rmem_a" "$rmem_b" "$(ratio "$rmem_a" "$rmem_b")"
	row "latency p50 (ms, all rounds pooled)" "$(lat redifx p50_ms)" "$(lat perconn p50_ms)" "$(ratio "$(lat redifx p50_ms)" "$(lat perconn p50_ms)")"
	row "latency p90 (ms)" "$(lat redifx p90_ms)" "$(lat perconn p90_ms)" "$(ratio "$(lat redifx p90_ms)" "$(lat perconn p90_ms)")"
	row "latency p99 (ms)" "$(lat redifx p99_ms)" "$(lat perconn p99_ms)" "$(ratio "$(lat redifx p99_ms)" "$(lat perconn p99_ms)")"
	row "latency max (ms)" "$(lat redifx max_ms)" "$(lat perconn max_ms)"
	row "latency samples (missing)" "$(lat redifx samples) ($(lat redifx missing))" "$(lat perconn samples) ($(lat perconn missing))"
	row "receivers (hot tenant)" "$(lat redifx receivers)" "$(lat perconn receivers)"
	row "GC cycles during the latency rounds" "${gcs[redifx]}" "${gcs[perconn]}"
	events_total=$((ROUNDS * EVENTS))
	for k in server redis load; do
		label="CPU ms per event, $k"
		[[ $k == redis ]] && label="CPU ms per event, redis-server"
		[[ $k == load ]] && label="CPU ms per event, load client"
		a=$(calc %.2f "${cpu[redifx.$k]} / $events_total")
		b=$(calc %.2f "${cpu[perconn.$k]} / $events_total")
		row "$label" "$a" "$b" "$(ratio "$a" "$b")"
	done
	echo
	echo "Per round (p50 / p99 ms):"
	echo "  redifx  p50: $(per_round redifx p50_ms)   p99: $(per_round redifx p99_ms)"
	echo "  perconn p50: $(per_round perconn p50_ms)   p99: $(per_round perconn p99_ms)"
	echo "  GC cycles per round: redifx ${gc_rounds[redifx]% }; perconn ${gc_rounds[perconn]% }"
	echo "  publish round trip p50 (ms): redifx $(per_round redifx publish_p50_ms); perconn $(per_round perconn publish_p50_ms)"
	echo
	echo "redifx Redis connections, clients connected, by client name (CLIENT LIST):"
	sed 's/^/  /' <<<"$breakdown1_a"
	echo "  before clients:"
	sed 's/^/    /' <<<"$breakdown0_a"
	echo "  subscribed channels (subscribers):"
	sed 's/^/    /' <<<"$subs_list_a"
	echo "  held by realtime = its subscriptions ($rt_subs) + growth of the shared redifx-default pool while the"
	echo "  streams opened ($default0_a -> $default1_a: $default_growth; each stream open reads its tenant's Stream there)."
	echo "  The other connections are the Redis manager's health probe of each logical client (default, cache,"
	echo "  session, pubsub) and the jobs module (its BLPOP, poller and cancel subscription)."
	echo
	echo "Streams closed during the run: redifx $(f redifx summary closed), perconn $(f perconn summary closed);"
	echo "events seen by clients of other tenants: redifx $(f redifx summary foreign_events)"
	echo "Load client stats: $(jline "$work/redifx.jsonl" stats)"
	echo "                   $(jline "$work/perconn.jsonl" stats)"
	echo
	((conn_a == CLIENTS)) || fail+=("redifx opened $conn_a of $CLIENTS streams: $(f redifx connected failures)")
	((conn_b == BASE_CLIENTS)) || fail+=("perconn opened $conn_b of $BASE_CLIENTS streams: $(f perconn connected failures)")
	((rt_held <= MAX_REALTIME_CONNS)) ||
		fail+=("realtime holds $rt_held Redis connections (> $MAX_REALTIME_CONNS): $rt_subs subscription(s) + $default_growth default-pool connections opened by stream opens")
	if awk -v k="$kib_a" -v m="$MAX_KIB_PER_CLIENT" 'BEGIN { exit !(k > m) }'; then
		fail+=("redifx RSS per client $kib_a KiB > $MAX_KIB_PER_CLIENT KiB (the bare gin + go-redis anchor)")
	fi
	awk -v k="$kib_a" -v g="$GOAL_KIB_PER_CLIENT" 'BEGIN { exit !(k > g) }' &&
		echo "note: RSS per client $kib_a KiB is above the goal of $GOAL_KIB_PER_CLIENT KiB"
	awk -v p="$(lat redifx p99_ms)" -v g="$GOAL_P99_MS" 'BEGIN { exit !(p > g) }' &&
		echo "note: redifx p99 $(lat redifx p99_ms) ms is above the goal of $GOAL_P99_MS ms"
	if ((${#fail[@]})); then
		for m in "${fail[@]}"; do echo "FAIL: $m"; done
	else
		echo "OK: realtime holds $rt_held Redis connection(s) (<= $MAX_REALTIME_CONNS), RSS per client $kib_a KiB (<= $MAX_KIB_PER_CLIENT KiB)"
	fi
	echo
	echo "== raw load client output =="
	cat "$work/redifx.jsonl" "$work/perconn.jsonl"
	echo
	echo "== redifx: garbage collections (gctrace, last 3) and log (warnings and errors, last 20 lines) =="
	grep '^gc ' "$work/redifx.log" | tail -3 || true
	grep -v '^gc ' "$work/redifx.log" | tail -20 || true
} >"$out"

cat "$out"
say "written to bench/results/$(basename "$out")"
((${#fail[@]} == 0)) || exit 1
