#!/usr/bin/env bash
# Dashboard benchmark (see bench/dashboard/README.md):
#
#   1. the real application (internal/app, as the binary composes it) on
#      loopback, with one extra route: GET /bench/constant, behind the same
#      middleware and the same authn.Require("metrics.read"), answering a
#      constant JSON body of the dashboard's size. Two instances, each with its
#      own fresh redis-server:
#        A  default configuration: the cached dashboard is served from the
#           in-process tier (metrics.local_cache_ttl, 1 s), Redis read at most
#           once a second;
#        B  METRICS__LOCAL_CACHE_TTL=0: every request reads the cache from Redis.
#      wrk loads A's dashboard, B's dashboard and A's constant route in turn,
#      WRK_ROUNDS times each: req/s, ratios to the constant route, p50/p99, and
#      CPU time per request of the app and of redis-server;
#   2. the metrics Redis hook: BenchmarkGET/hook=on vs hook=off (a
#      redis.Manager with and without metrics.NewRedisHook()), HOOK_ROUNDS
#      interleaved processes each, compared with benchstat.
#
# Usage: bench/dashboard/run.sh       (from anywhere)
# Environment (defaults):
#   WRK_ROUNDS=3 WRK_THREADS=2 WRK_CONNECTIONS=50 WRK_DURATION=10s
#   HOOK_ROUNDS=10 BENCHTIME=1s
#   LOG_LEVEL=warn       the app's log level (info logs every request)
#   MIN_RATIO=0.7        A's dashboard/constant req/s (median of the paired
#                        ratios) below this fails the run
#   WAIT_FOR_IDLE=1      first wait (up to 15 min) until no other benchmark
#                        (bench/realtime) is running
#
# Writes bench/results/dashboard-<date>.txt (and -hook-raw.txt, the benchstat
# input) and prints it. Takes about 4 minutes.
set -euo pipefail

WRK_ROUNDS=${WRK_ROUNDS:-3}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-50}
WRK_DURATION=${WRK_DURATION:-10s}
HOOK_ROUNDS=${HOOK_ROUNDS:-10}
BENCHTIME=${BENCHTIME:-1s}
LOG_LEVEL=${LOG_LEVEL:-warn}
MIN_RATIO=${MIN_RATIO:-0.7}
WAIT_FOR_IDLE=${WAIT_FOR_IDLE:-1}
# x/perf has no releases; this pseudo-version builds with Go 1.26.
BENCHSTAT_PKG=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

dash_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_dir=$(dirname "$dash_dir")
repo_dir=$(dirname "$bench_dir")

BENCH=bench/dashboard
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redifx-dashboard-bench.XXXXXX")
work=$WORK
# shellcheck source=../lib.sh
source "$bench_dir/lib.sh"
trap bench_cleanup EXIT

command -v wrk >/dev/null || bench_die "wrk not found on PATH (apt-get install -y wrk)"
bench_require go redis-server redis-cli curl lscpu getconf
if [[ $WAIT_FOR_IDLE == 1 ]]; then
	bench_wait_for_idle
fi

machine="$(bench_machine); $({ wrk --version 2>&1 || true; } | head -1 | awk '{print $1, $2}')"
echo "bench/dashboard: machine: $machine"
code=$(bench_code "$repo_dir")
echo "bench/dashboard: building ($code)"
(cd "$repo_dir" && go build -o "$work/dashboardserver" ./bench/dashboard/cmd/dashboardserver)
(cd "$repo_dir" && go test -c -o "$work/hook.test" ./bench/dashboard)
GOFLAGS= GOBIN="$work" go install "$BENCHSTAT_PKG"
benchstat="$work/benchstat"

# ---------------------------------------------------------------------------
# 1. Dashboard vs constant route, on the real application.

# start_redis NAME: a fresh redis-server (bench_start_redis); sets
# redis_port[NAME] and redis_pid[NAME].
declare -A redis_port redis_pid
start_redis() {
	bench_start_redis "$1"
	redis_port[$1]=$REDIS_PORT
	redis_pid[$1]=$REDIS_PID
}

# start_app NAME [VAR=value ...]: the app on a free port against redis NAME;
# sets app_pid[NAME], base[NAME], token[NAME] and the body sizes.
declare -A app_pid base token dash_bytes const_bytes
secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 40)
start_app() {
	local name=$1 env_file="$work/app-$1.env" pid
	shift
	env ENVIRONMENT=test AUTH__JWT_SECRET="$secret" REDIS__URL="redis://127.0.0.1:${redis_port[$name]}/0" \
		HTTP__ADDR=127.0.0.1:0 LOG__LEVEL="$LOG_LEVEL" "$@" \
		"$work/dashboardserver" -out "$env_file" >"$work/app-$name.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for _ in $(seq 300); do
		grep -q '^CONSTANT_BYTES=' "$env_file" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || {
			cat "$work/app-$name.log" >&2
			bench_die "app $name exited"
		}
		sleep 0.1
	done
	grep -q '^CONSTANT_BYTES=' "$env_file" 2>/dev/null || {
		cat "$work/app-$name.log" >&2
		bench_die "app $name did not start"
	}
	app_pid[$name]=$pid
	base[$name]=$(sed -n 's/^BASE=//p' "$env_file")
	token[$name]=$(sed -n 's/^TOKEN=//p' "$env_file")
	dash_bytes[$name]=$(sed -n 's/^DASHBOARD_BYTES=//p' "$env_file")
	const_bytes[$name]=$(sed -n 's/^CONSTANT_BYTES=//p' "$env_file")
	echo "bench/dashboard: app $name on ${base[$name]} (redis-server on 127.0.0.1:${redis_port[$name]});" \
		"body: dashboard ${dash_bytes[$name]} B, constant ${const_bytes[$name]} B"
}

start_redis A
start_app A
start_redis B
start_app B METRICS__LOCAL_CACHE_TTL=0

# The three loads: variant -> app and path.
variants=(dashboard dashboard-redis constant)
declare -A v_app=([dashboard]=A [dashboard-redis]=B [constant]=A)
declare -A v_path=([dashboard]=/api/v1/metrics/dashboard [dashboard-redis]=/api/v1/metrics/dashboard [constant]=/bench/constant)

# CPU time (user + system, in clock ticks) a process has used so far. Per
# request it is a figure that a busy, shared host distorts far less than
# requests per second.
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

run_wrk() { # VARIANT DURATION
	local a=${v_app[$1]}
	wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$2" --latency -s "$dash_dir/auth.lua" "${base[$a]}${v_path[$1]}" -- "${token[$a]}"
}
echo "bench/dashboard: warm-up"
for v in "${variants[@]}"; do
	run_wrk "$v" 2s >/dev/null
done
: >"$work/wrk.txt"
for ((i = 1; i <= WRK_ROUNDS; i++)); do
	# Rotate the order so that no variant always runs first or last.
	order=()
	for ((k = 0; k < ${#variants[@]}; k++)); do
		order+=("${variants[(i - 1 + k) % ${#variants[@]}]}")
	done
	for v in "${order[@]}"; do
		a=${v_app[$v]}
		app0=$(cpu_ticks "${app_pid[$a]}")
		redis0=$(cpu_ticks "${redis_pid[$a]}")
		run_wrk "$v" "$WRK_DURATION" >"$work/wrk-$v-$i.txt"
		app1=$(cpu_ticks "${app_pid[$a]}")
		redis1=$(cpu_ticks "${redis_pid[$a]}")
		line=$(grep '^RESULT ' "$work/wrk-$v-$i.txt") || {
			cat "$work/wrk-$v-$i.txt" >&2
			bench_die "no RESULT line from wrk ($v, round $i)"
		}
		reqs=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
		cpu=$(awk -v a=$((app1 - app0)) -v r=$((redis1 - redis0)) -v n="$reqs" -v hz="$hz" \
			'BEGIN { printf "app_cpu_us=%.2f redis_cpu_us=%.2f", a * 1e6 / hz / n, r * 1e6 / hz / n }')
		echo "$v $i ${line#RESULT } $cpu" >>"$work/wrk.txt"
		echo "bench/dashboard: round $i/$WRK_ROUNDS $v: ${line#RESULT } $cpu"
	done
done
# Both dashboards must have been served from the cache throughout.
hits=""
for a in A B; do
	h=$(curl -s -H "Authorization: Bearer ${token[$a]}" "${base[$a]}/api/v1/metrics/dashboard" | grep -o '"hit":[a-z]*' || true)
	hits+="$a ${h:-unknown}; "
done
for ((k = ${#PIDS[@]} - 1; k >= 0; k--)); do
	bench_stop_pid "${PIDS[k]}"
done
PIDS=()

# field VARIANT KEY: the values of KEY for VARIANT, one per line, by round.
field() { awk -v v="$1" -v k="$2" '$1 == v { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) print kv[2] } }' "$work/wrk.txt"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN { printf "%.*f", d, a / b }'; }
# paired VARIANT: VARIANT's req/s over the constant route's, round by round
# (runs of the same round are adjacent in time, so the ratio is less exposed
# to the shared host's capacity drifting between rounds).
paired() { paste <(field "$1" rps) <(field constant rps) | awk '{ printf "%.3f\n", $1 / $2 }'; }

# ---------------------------------------------------------------------------
# 2. The metrics Redis hook: hook=on vs hook=off, interleaved processes.

raw="$work/hook-raw.txt"
: >"$raw"
for ((i = 1; i <= HOOK_ROUNDS; i++)); do
	if ((i % 2)); then order=(on off); else order=(off on); fi
	echo "bench/dashboard: hook round $i/$HOOK_ROUNDS: ${order[*]}"
	for v in "${order[@]}"; do
		(cd "$dash_dir" && "$work/hook.test" -test.run '^$' -test.bench "^BenchmarkGET\$/^hook=$v\$" \
			-test.benchtime "$BENCHTIME" -test.count 1 -test.benchmem) >"$work/hook-run.txt" 2>&1 || {
			cat "$work/hook-run.txt" >&2
			bench_die "hook benchmark failed (round $i, hook=$v)"
		}
		grep -q "^BenchmarkGET/hook=$v" "$work/hook-run.txt" || {
			cat "$work/hook-run.txt" >&2
			bench_die "no results from hook=$v (was it skipped?)"
		}
		grep -E '^(Benchmark|goos|goarch|pkg|cpu):?' "$work/hook-run.txt" >>"$raw" || true
	done
done
hook_median() { grep -E "^BenchmarkGET/hook=$1(-[0-9]+)?[[:space:]]" "$raw" | awk '{ for (i = 2; i <= NF; i++) if ($i == "ops/s") print $(i - 1) }' | median; }

# ---------------------------------------------------------------------------
# Report.

mkdir -p "$bench_dir/results"
stamp=$(date +%Y-%m-%d)
out="$bench_dir/results/dashboard-$stamp.txt"
cp "$raw" "$bench_dir/results/dashboard-$stamp-hook-raw.txt"
declare -A rps p50 p99 app_us redis_us
for v in "${variants[@]}"; do
	rps[$v]=$(field "$v" rps | median)
	p50[$v]=$(field "$v" p50_us | median)
	p99[$v]=$(field "$v" p99_us | median)
	app_us[$v]=$(field "$v" app_cpu_us | median)
	redis_us[$v]=$(field "$v" redis_cpu_us | median)
done
gate=$(paired dashboard | median)
on=$(hook_median on)
off=$(hook_median off)
{
	echo "redifx dashboard benchmark, $(date -u '+%Y-%m-%d %H:%M UTC') (bench/dashboard/run.sh)"
	echo "Machine: $machine"
	echo "Code: $code"
	echo "Load: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION --latency on loopback, $WRK_ROUNDS rounds, the three loads in rotating order;"
	echo "      wrk, the app and redis-server share the $(nproc) CPUs. App: internal/app, ENVIRONMENT=test, LOG__LEVEL=$LOG_LEVEL."
	echo
	echo "== cached GET /api/v1/metrics/dashboard vs constant JSON (same middleware, same auth, same size) =="
	echo "dashboard        app A, default config: in-process tier (local_cache_ttl 1s) in front of Redis"
	echo "dashboard-redis  app B, METRICS__LOCAL_CACHE_TTL=0: the cached JSON read from Redis on every request"
	echo "constant         app A, GET /bench/constant: authn.Require(\"metrics.read\") + a precomputed body"
	echo "body bytes: dashboard ${dash_bytes[A]} / ${dash_bytes[B]} (A / B), constant ${const_bytes[A]}; still cache hits at the end: $hits"
	printf '%-16s %9s %8s %8s %10s %10s   %s\n' load "req/s" "p50 ms" "p99 ms" "app us/req" "redis us/req" "rounds (req/s, p99 ms)"
	for v in "${variants[@]}"; do
		rounds=$(awk -v v="$v" '$1 == v { for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } printf "%.0f/%.2f ", f["rps"], f["p99_us"] / 1000 }' "$work/wrk.txt")
		printf '%-16s %9.0f %8.2f %8.2f %10.1f %10.1f   %s\n' "$v" "${rps[$v]}" "$(awk -v x="${p50[$v]}" 'BEGIN { print x / 1000 }')" \
			"$(awk -v x="${p99[$v]}" 'BEGIN { print x / 1000 }')" "${app_us[$v]}" "${redis_us[$v]}" "$rounds"
	done
	echo "non-2xx responses / socket errors: $(awk '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "non2xx") n += kv[2]; if (kv[1] == "errors") e += kv[2] } } END { print n + 0 " / " e + 0 }' "$work/wrk.txt")"
	echo "(medians over the rounds; us/req: CPU time, user + system, of the app process and of its redis-server per request)"
	echo
	for v in dashboard dashboard-redis; do
		echo "$v / constant: req/s $(ratio "${rps[$v]}" "${rps[constant]}") (medians), $(paired "$v" | median) (median of the paired rounds: $(paired "$v" | tr '\n' ' '));" \
			"p99 $(ratio "${p99[$v]}" "${p99[constant]}" 2); CPU per request (app + redis) constant/$v $(ratio "$(awk -v a="${app_us[constant]}" -v b="${redis_us[constant]}" 'BEGIN { print a + b }')" "$(awk -v a="${app_us[$v]}" -v b="${redis_us[$v]}" 'BEGIN { print a + b }')")"
	done
	echo "goal: dashboard / constant >= $MIN_RATIO (median of the paired rounds): $gate"
	echo
	echo "== metrics Redis hook: BenchmarkGET, 50 goroutines, managed client with/without metrics.NewRedisHook() =="
	echo "$HOOK_ROUNDS interleaved processes per variant, -benchtime=$BENCHTIME, each against its own redistest redis-server"
	"$benchstat" -col '/hook@(off on)' "$raw"
	echo
	echo "ops/s medians: hook=on $(printf '%.0f' "$on"), hook=off $(printf '%.0f' "$off"); ratio on/off: $(ratio "$on" "$off")"
	echo "Raw hook results: bench/results/dashboard-$stamp-hook-raw.txt"
} >"$out"
cat "$out"
echo "bench/dashboard: written to bench/results/$(basename "$out")"
if awk -v g="$gate" -v m="$MIN_RATIO" 'BEGIN { exit !(g < m) }'; then
	bench_die "dashboard/constant = $gate < $MIN_RATIO"
fi
