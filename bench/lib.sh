# Shell helpers the benchmark scripts share (bench/run.sh, bench/*/run.sh).
# Source it after setting BENCH (the name messages start with, such as
# "bench/jobs") and WORK (the script's temporary directory). Processes the
# script starts go into the array PIDS (bench_start_redis appends its own);
# `trap bench_cleanup EXIT` stops them and removes WORK.

PIDS=()

bench_die() {
	echo "$BENCH: $*" >&2
	exit 1
}

bench_say() { echo "$BENCH: $*" >&2; }

# bench_require TOOL...: fail unless every TOOL is on PATH.
bench_require() {
	local tool
	for tool; do
		command -v "$tool" >/dev/null || bench_die "$tool not found on PATH"
	done
}

# bench_machine: what the figures were measured on, in one line.
bench_machine() {
	local cpu
	cpu=$(lscpu | grep 'Model name' | head -1 | sed 's/^[^:]*:[[:space:]]*//')
	echo "nproc $(nproc); $cpu; $(uname -sr); $(go env GOVERSION); redis-server $(redis-server --version | awk '{print $3}' | sed 's/^v=//')"
}

# bench_code REPO: the code measured: the commit, and whether modules/ or
# internal/ differ from it.
bench_code() {
	local code
	code="commit $(git -C "$1" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	[[ -z $(git -C "$1" status --porcelain -- modules internal 2>/dev/null) ]] || code+=" (modules/ or internal/ modified)"
	echo "$code"
}

# bench_wait_for_idle: wait (up to 15 minutes) while another benchmark that
# would distort every figure on this small machine (bench/realtime and its
# load client) runs.
bench_wait_for_idle() {
	local i others
	for ((i = 0; ; i++)); do
		others=$(pgrep -f 'bench/realtime|loadclient|perconn' | tr '\n' ' ' || true)
		[[ -z ${others// /} ]] && return 0
		((i < 45)) || bench_die "another benchmark is still running after 15 minutes (pids: $others)"
		bench_say "waiting for another benchmark to finish (pids: $others)"
		sleep 20
	done
}

# bench_port_free PORT: nothing listens on PORT and no local socket (not even
# one in TIME_WAIT) uses it.
bench_port_free() {
	if command -v ss >/dev/null; then
		[[ -z $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]
	else
		! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# bench_free_port [EXCLUDED...]: a free loopback port below the usual
# ephemeral range (32768 and up, where clients' own sockets live), never 6379
# nor EXCLUDED.
bench_free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		if [[ $p != 6379 && " $* " != *" $p "* ]] && bench_port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	bench_die "no free port"
}

# bench_stop_pid PID: SIGTERM, then SIGKILL after 20 s.
bench_stop_pid() {
	local pid=$1
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# bench_start_redis NAME [ARG...]: a fresh redis-server on a free port, no
# persistence, its files in $WORK/redis-NAME, with extra ARGs; sets REDIS_PORT
# and REDIS_PID, and appends the pid to PIDS.
bench_start_redis() {
	local name=$1 port pid
	shift
	for _ in $(seq 5); do
		port=$(bench_free_port)
		mkdir -p "$WORK/redis-$name"
		redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
			--dir "$WORK/redis-$name" --logfile "$WORK/redis-$name/redis.log" "$@" &
		pid=$!
		PIDS+=("$pid")
		for _ in $(seq 100); do
			if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
				REDIS_PORT=$port
				REDIS_PID=$pid
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		bench_stop_pid "$pid" # lost a race for the port: try another
	done
	bench_die "could not start redis-server $name (see $WORK/redis-$name/redis.log)"
}

# bench_cleanup: stop every process in PIDS, newest first, and remove WORK.
bench_cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		bench_stop_pid "${PIDS[i]}"
	done
	rm -rf "$WORK"
}
