#!/usr/bin/env bash
# Compares the managed Redis client with a bare go-redis client (identical
# options) and with a new connection per request, in interleaved rounds, and
# runs redis-benchmark against a fresh redis-server as a reference.
#
# Usage: bench/run.sh            (from anywhere; `make bench` calls it)
# Environment:
#   ROUNDS=20       interleaved rounds (each runs every variant once; >= 10)
#   BENCHTIME=1s    -benchtime of every run
#   MIN_RATIO=0.97  managed/bare ops/s below this (GET or SET) fails the run
#
# Writes bench/results/<date>.txt (summary and benchstat tables) and
# bench/results/<date>-raw.txt (the raw benchmark lines, for benchstat).
# Exits non-zero when the managed client is too slow.
set -euo pipefail

ROUNDS=${ROUNDS:-20}
BENCHTIME=${BENCHTIME:-1s}
MIN_RATIO=${MIN_RATIO:-0.97}
# x/perf has no releases; this pseudo-version builds with Go 1.26.
BENCHSTAT_PKG=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
VARIANTS=(managed bare conn-per-request)

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$bench_dir")

BENCH=bench
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redifx-bench.XXXXXX")
work=$WORK
# shellcheck source=lib.sh
source "$bench_dir/lib.sh"
trap bench_cleanup EXIT

bench_require go redis-server redis-benchmark redis-cli lscpu
((ROUNDS >= 1)) || bench_die "ROUNDS must be at least 1"
((ROUNDS >= 10)) || echo "bench: warning: ROUNDS=$ROUNDS; use at least 10 for a meaningful comparison" >&2

mkdir -p "$bench_dir/results"
stamp=$(date +%Y-%m-%d)
out="$bench_dir/results/$stamp.txt"
raw="$bench_dir/results/$stamp-raw.txt"
: >"$raw"

machine=$(bench_machine)

echo "bench: machine: $machine"
echo "bench: building the benchmark binary"
(cd "$repo_dir" && go test -c -o "$work/bench.test" ./bench)
echo "bench: building benchstat"
GOFLAGS= GOBIN="$work" go install "$BENCHSTAT_PKG"
benchstat="$work/benchstat"

# Interleaved rounds: every variant once per round, each in its own process
# with its own redis-server, managed and bare alternating which goes first.
start=$SECONDS
for ((i = 1; i <= ROUNDS; i++)); do
	if ((i % 2)); then
		order=(managed bare conn-per-request)
	else
		order=(bare managed conn-per-request)
	fi
	echo "bench: round $i/$ROUNDS: ${order[*]}"
	for v in "${order[@]}"; do
		(cd "$bench_dir" && "$work/bench.test" -test.run '^$' \
			-test.bench "^Benchmark(GET|SET)\$/^client=$v\$" \
			-test.benchtime "$BENCHTIME" -test.count 1 -test.benchmem) >"$work/run.txt" 2>&1 ||
			{
				cat "$work/run.txt" >&2
				bench_die "benchmark run failed (round $i, client=$v)"
			}
		grep -E '^(Benchmark|goos|goarch|pkg|cpu):?' "$work/run.txt" >>"$raw" || true
		grep -q "^BenchmarkGET/client=$v" "$work/run.txt" ||
			{
				cat "$work/run.txt" >&2
				bench_die "no results from client=$v (was it skipped?)"
			}
	done
done
bench_secs=$((SECONDS - start))

# median OP VARIANT: the median ops/s of BenchmarkOP/client=VARIANT.
median() {
	grep -E "^Benchmark$1/client=$2(-[0-9]+)?[[:space:]]" "$raw" |
		awk '{ for (i = 2; i <= NF; i++) if ($i == "ops/s") print $(i - 1) }' |
		sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# pvalue OP: benchstat's significance of managed vs bare ops/s for OP.
pvalue() {
	"$benchstat" -format csv -col '/client@(bare managed)' -filter '/client:(bare OR managed) .unit:ops/s' "$raw" |
		awk -F, -v op="$1" '$1 ~ "^" op "(-[0-9]+)?$" { print $NF }'
}
# ratio A B [DIGITS]: A/B rounded to DIGITS (3) decimals.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-3}" 'BEGIN { printf "%.*f", d, a / b }'; }

# Reference: redis-benchmark against a fresh redis-server like the one the
# benchmarks use (127.0.0.1, no persistence, temporary directory).
echo "bench: redis-benchmark reference"
bench_start_redis ref
redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -q -t get,set -n 100000 -c 50 -P 1 |
	tr '\r' '\n' | grep 'requests per second' | sed 's/^[[:space:]]*//' >"$work/redis-benchmark.txt"
bench_stop_pid "$REDIS_PID"

rb() { awk -F': ' -v op="$1" '$1 == op { split($2, f, " "); print f[1] }' "$work/redis-benchmark.txt"; }

# Report.
fail=()
{
	echo "redifx Redis client benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "Machine: $machine"
	echo "Runs: $ROUNDS interleaved rounds x {managed, bare, conn-per-request}, -benchtime=$BENCHTIME,"
	echo "      50 concurrent goroutines per run (b.SetParallelism; pool size 50), GOMAXPROCS=$(nproc)"
	echo "      (benchmarks took ${bench_secs}s)"
	echo
	echo "== managed vs bare (benchstat) =="
	"$benchstat" -col '/client@(bare managed)' -filter '/client:(bare OR managed)' "$raw"
	echo
	echo "== all variants, ops/s (benchstat) =="
	"$benchstat" -col '/client@(managed bare conn-per-request)' -filter '.unit:ops/s' "$raw"
	echo
	echo "== summary (medians) =="
	printf '%-4s %12s %12s %18s %10s %14s %16s\n' op managed bare conn-per-request managed/bare managed/per-req redis-benchmark
	for op in GET SET; do
		m=$(median "$op" managed) || bench_die "no managed $op results"
		b=$(median "$op" bare) || bench_die "no bare $op results"
		c=$(median "$op" conn-per-request) || bench_die "no conn-per-request $op results"
		r=$(ratio "$m" "$b")
		printf '%-4s %12.0f %12.0f %18.0f %10s %14sx %16s\n' "$op" "$m" "$b" "$c" "$r" "$(ratio "$m" "$c")" "$(rb "$op")"
		# Compare the unrounded ratio: 0.96989 must not pass as "0.970".
		if awk -v m="$m" -v b="$b" -v min="$MIN_RATIO" 'BEGIN { exit !(m / b < min) }'; then
			fail+=("$op managed/bare = $(ratio "$m" "$b" 4) < $MIN_RATIO (benchstat: $(pvalue "$op"))")
		fi
	done
	echo "(ops/s; redis-benchmark: -t get,set -n 100000 -c 50 -P 1 against a fresh redis-server)"
	echo
	echo "== redis-benchmark =="
	cat "$work/redis-benchmark.txt"
	echo
	if ((${#fail[@]})); then
		for f in "${fail[@]}"; do
			echo "FAIL: $f: the managed client is more than $(awk -v m="$MIN_RATIO" 'BEGIN { printf "%g", (1 - m) * 100 }')% slower than a bare go-redis client"
		done
		echo "      (p >= 0.05 means benchstat cannot tell the two apart: the machine is too noisy;"
		echo "      rerun on an idle machine or with more ROUNDS)"
	else
		echo "OK: managed/bare ratio >= $MIN_RATIO for GET and SET"
	fi
	echo "Raw results: bench/results/$(basename "$raw")"
} >"$out"

cat "$out"
echo "bench: written to bench/results/$(basename "$out")"
((${#fail[@]} == 0)) || exit 1
