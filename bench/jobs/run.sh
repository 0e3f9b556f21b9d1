#!/usr/bin/env bash
# Job queue benchmark: redifx (modules/jobs) against asynq v0.26.0, on one
# fresh redis-server, in one run, interleaved (see bench/jobs/README.md):
#
#   a. throughput: N no-op jobs enqueued by 10 goroutines, then processed by a
#      worker with concurrency 10 (redifx alone, redifx publishing its events
#      to a realtime.Hub, asynq)
#   b. idle pickup latency: one job at a time into an idle queue
#   c. crash recovery: a worker process SIGKILLed mid-job; time until another
#      worker process starts the same job, and whether a retry was spent
#      (redifx with its 30 s default lease and with a 5 s lease; asynq defaults)
#
# Usage: bench/jobs/run.sh            (from anywhere)
# Environment (defaults):
#   N=100000 ROUNDS=3                 throughput jobs per run; rounds of a and b
#   SAMPLES=200 ASYNQ_SAMPLES=20      pickup samples per round (asynq's take ~1 s each)
#   CRASH_ROUNDS=3 ASYNQ_CRASH_ROUNDS=3 LEASES=30s,5s CRASH_CAP=120s
#   ONLY=throughput,pickup,crash      parts to run
#   WAIT_FOR_IDLE=1                   first wait (up to 15 min) until no other
#                                     benchmark (bench/realtime) is running
#
# Writes bench/results/jobs-<date>.txt and prints it. A full run takes about
# 12 minutes, half of it waiting for leases to expire (c).
set -euo pipefail

N=${N:-100000}
ROUNDS=${ROUNDS:-3}
SAMPLES=${SAMPLES:-200}
ASYNQ_SAMPLES=${ASYNQ_SAMPLES:-20}
CRASH_ROUNDS=${CRASH_ROUNDS:-3}
ASYNQ_CRASH_ROUNDS=${ASYNQ_CRASH_ROUNDS:-3}
LEASES=${LEASES:-30s,5s}
CRASH_CAP=${CRASH_CAP:-120s}
ONLY=${ONLY:-throughput,pickup,crash}
WAIT_FOR_IDLE=${WAIT_FOR_IDLE:-1}

jobs_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_dir=$(dirname "$jobs_dir")
repo_dir=$(dirname "$bench_dir")

BENCH=bench/jobs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/redifx-jobs-bench.XXXXXX")
work=$WORK
# shellcheck source=../lib.sh
source "$bench_dir/lib.sh"
trap bench_cleanup EXIT

bench_require go redis-server redis-cli lscpu
if [[ $WAIT_FOR_IDLE == 1 ]]; then
	bench_wait_for_idle
fi

machine=$(bench_machine)
echo "bench/jobs: machine: $machine"
code=$(bench_code "$repo_dir")
echo "bench/jobs: building ($code)"
(cd "$jobs_dir" && go build -o "$work/" ./cmd/jobsbench ./cmd/redifxworker ./cmd/asynqworker)

bench_start_redis jobs
port=$REDIS_PORT
echo "bench/jobs: redis-server on 127.0.0.1:$port"

mkdir -p "$work/logs" "$bench_dir/results"
stamp=$(date +%Y-%m-%d)
out="$bench_dir/results/jobs-$stamp.txt"
start=$SECONDS
"$work/jobsbench" -redis "127.0.0.1:$port" -n "$N" -rounds "$ROUNDS" \
	-samples "$SAMPLES" -asynq-samples "$ASYNQ_SAMPLES" \
	-crash-rounds "$CRASH_ROUNDS" -asynq-crash-rounds "$ASYNQ_CRASH_ROUNDS" \
	-leases "$LEASES" -crash-cap "$CRASH_CAP" -only "$ONLY" \
	-redifx-worker "$work/redifxworker" -asynq-worker "$work/asynqworker" \
	-workdir "$work/logs" >"$work/summary.txt" ||
	{
		for f in "$work"/logs/*.log; do
			[[ -e $f ]] && { echo "== $f" >&2; tail -20 "$f" >&2; }
		done
		bench_die "jobsbench failed"
	}

{
	echo "redifx job queue vs asynq, $(date -u '+%Y-%m-%d %H:%M UTC') (bench/jobs/run.sh, $((SECONDS - start)) s)"
	echo "Machine: $machine"
	echo "Code: redifx $code, asynq v0.26.0"
	echo "Redis: one fresh redis-server (--save '' --appendonly no) on 127.0.0.1, FLUSHALL before every measurement"
	echo
	cat "$work/summary.txt"
} >"$out"
cat "$out"
echo "bench/jobs: written to bench/results/$(basename "$out")"
