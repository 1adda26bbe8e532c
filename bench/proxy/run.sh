#!/usr/bin/env bash
# The proxy benchmark: Fledge's embedded proxy against nginx, HAProxy and
# Caddy, each splitting traffic 90/10 between two loopback upstreams, with
# two baselines: "direct" (wrk straight to the stable upstream) and "stdlib"
# (a bare httputil.ReverseProxy, the floor Fledge's proxy builds on). Prints
# a markdown table (medians over rounds) of throughput, CPU per request,
# latency, the p99 each proxy adds at an equal load, and the canary share
# the upstreams counted. See docs/benchmarks.md.
#
#   bench/proxy/run.sh                      # 3 interleaved rounds of 10s each
#   ROUNDS=5 DURATION=20s bench/proxy/run.sh
#   PROFILE=1 bench/proxy/run.sh            # + a CPU profile of Fledge's proxy
#   FLEDGE_GOGC=100 bench/proxy/run.sh      # Fledge's proxy with another GOGC (default 400, as the fledge binary sets)
#
# Each round also runs wrk paced (paced.lua: each connection pauses PACE_MS
# between requests, about 6,000 requests/s in all) on every target: latency
# at equal load, which is what "added p99" compares.
#
# Results go to bench/out/proxy/ (results.md, results.json, the raw wrk
# outputs and the configurations used). Every proxy gets the same CPU budget:
# 2 nginx workers, 2 HAProxy threads, GOMAXPROCS=2 for the Go programs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/bench/out/proxy}
BIN=$ROOT/bench/out/bin
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
PACED_DURATION=${PACED_DURATION:-5s} # the equal-load latency run
export PACE_MS=${PACE_MS:-10}         # its pause per connection between requests
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
CPUS=${CPUS:-2}
BASE_PORT=${BASE_PORT:-18080}
CADDY_VERSION=${CADDY_VERSION:-v2.11.9} # "latest" works too; pinned so runs compare
TARGETS=(${TARGETS:-direct fledge stdlib nginx haproxy caddy})

ADMIN=$BASE_PORT STABLE=$((BASE_PORT + 1)) CANARY=$((BASE_PORT + 2))
declare -A PORT=([direct]=$STABLE [fledge]=$((BASE_PORT + 10)) [nginx]=$((BASE_PORT + 11))
	[haproxy]=$((BASE_PORT + 12)) [caddy]=$((BASE_PORT + 13)) [stdlib]=$((BASE_PORT + 14)))

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools -------------------------------------------------------------------

install_tools() {
	local missing=()
	command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
	command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
	command -v wrk >/dev/null || missing+=(wrk)
	command -v curl >/dev/null || missing+=(curl)
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
	mkdir -p "$BIN"
	if [[ ! -x $BIN/caddy ]]; then
		log "building caddy $CADDY_VERSION (a few minutes, once)"
		GOBIN=$BIN go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
	fi
	log "building the upstreams, Fledge's proxy harness and the report"
	(cd "$ROOT" && go build -o "$BIN/" ./bench/proxy/upstream ./bench/proxy/fledgeproxy ./bench/proxy/stdlibproxy ./bench/proxy/report)
}

# --- processes -----------------------------------------------------------------

PIDS=()
declare -A PIDOF
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# start NAME CMD...: runs CMD in the background, its output in $OUT/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$OUT/$name.log" 2>&1 &
	PIDS+=($!)
	PIDOF[$name]=$!
}

wait_port() {
	local port=$1 name=$2 i
	for ((i = 0; i < 100; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	cat "$OUT/$name.log" >&2 || true
	die "$name did not listen on 127.0.0.1:$port within 10s"
}

write_configs() {
	mkdir -p "$OUT/conf" "$OUT/nginx/logs" "$OUT/nginx/tmp"
	cat >"$OUT/conf/nginx.conf" <<EOF
worker_processes $CPUS;
daemon off;
user root;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $OUT/nginx/tmp/body;
	proxy_temp_path $OUT/nginx/tmp/proxy;
	fastcgi_temp_path $OUT/nginx/tmp/fastcgi;
	uwsgi_temp_path $OUT/nginx/tmp/uwsgi;
	scgi_temp_path $OUT/nginx/tmp/scgi;
	keepalive_requests 1000000;
	upstream backends {
		server 127.0.0.1:$STABLE weight=9;
		server 127.0.0.1:$CANARY weight=1;
		keepalive 128;
		keepalive_requests 1000000;
	}
	server {
		listen 127.0.0.1:${PORT[nginx]};
		location / {
			proxy_pass http://backends;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
EOF
	cat >"$OUT/conf/haproxy.cfg" <<EOF
global
	nbthread $CPUS
	maxconn 4096
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
	option http-keep-alive
	http-reuse always
frontend fe
	bind 127.0.0.1:${PORT[haproxy]}
	default_backend be
backend be
	balance roundrobin
	server stable 127.0.0.1:$STABLE weight 90
	server canary 127.0.0.1:$CANARY weight 10
EOF
	cat >"$OUT/conf/Caddyfile" <<EOF
{
	admin off
	auto_https off
	persist_config off
	log {
		level ERROR
	}
}
http://127.0.0.1:${PORT[caddy]} {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$STABLE 127.0.0.1:$CANARY {
		lb_policy weighted_round_robin 9 1
		transport http {
			keepalive 90s
			keepalive_idle_conns 256
			keepalive_idle_conns_per_host 128
		}
	}
}
EOF
}

start_all() {
	local profile=()
	[[ ${PROFILE:-0} == 1 ]] && profile=(-cpuprofile "$OUT/fledge.cpu.pprof")
	start upstream env GOMAXPROCS=$CPUS "$BIN/upstream" -stable 127.0.0.1:$STABLE -canary 127.0.0.1:$CANARY -admin 127.0.0.1:$ADMIN
	wait_port "$ADMIN" upstream
	wait_port "$STABLE" upstream
	wait_port "$CANARY" upstream
	for t in "${TARGETS[@]}"; do
		case $t in
		direct) ;;
		fledge) start fledge env GOMAXPROCS=$CPUS GOGC=${FLEDGE_GOGC:-400} "$BIN/fledgeproxy" -listen "127.0.0.1:${PORT[fledge]}" \
			-stable 127.0.0.1:$STABLE -canary 127.0.0.1:$CANARY -weight 10 "${profile[@]}" ;;
		stdlib) start stdlib env GOMAXPROCS=$CPUS "$BIN/stdlibproxy" -listen "127.0.0.1:${PORT[stdlib]}" \
			-stable 127.0.0.1:$STABLE -canary 127.0.0.1:$CANARY ;;
		nginx) start nginx nginx -e stderr -p "$OUT/nginx" -c "$OUT/conf/nginx.conf" ;;
		haproxy) start haproxy haproxy -db -f "$OUT/conf/haproxy.cfg" ;;
		caddy) start caddy env GOMAXPROCS=$CPUS "$BIN/caddy" run --adapter caddyfile --config "$OUT/conf/Caddyfile" ;;
		*) die "unknown target $t (have direct fledge stdlib nginx haproxy caddy)" ;;
		esac
		wait_port "${PORT[$t]}" "$t"
	done
}

# --- measuring -------------------------------------------------------------------

reset_counts() { curl -fsS -X POST "http://127.0.0.1:$ADMIN/reset"; }

# counts prints "STABLE CANARY" once the upstreams' counters stop moving
# (requests a proxy still had in flight when wrk stopped land first).
counts() {
	local prev="" now
	while :; do
		now=$(curl -fsS "http://127.0.0.1:$ADMIN/count" | sed -E 's/.*"canary":([0-9]+).*"stable":([0-9]+).*/\2 \1/')
		[[ $now == "$prev" ]] && break
		prev=$now
		sleep 0.2
	done
	echo "$now"
}

# cpu_ms PID: the CPU time (user + system, all threads) that PID and its
# children (nginx's workers) have used so far, in milliseconds.
CLK_TCK=$(getconf CLK_TCK)
cpu_ms() {
	local ticks=0 p f
	for p in "$1" $(pgrep -P "$1" || true); do
		read -r -a f <"/proc/$p/stat" || continue
		ticks=$((ticks + f[13] + f[14]))
	done
	echo $((ticks * 1000 / CLK_TCK))
}

# measure TARGET FILE DURATION: one wrk run, its output in FILE; sets
# N_STABLE and N_CANARY to what the upstreams served and CPU_MS to the CPU
# time the proxy used (the upstreams' for direct).
measure() {
	local t=$1 file=$2 duration=$3 pid cpu0
	pid=${PIDOF[${t/direct/upstream}]}
	reset_counts
	cpu0=$(cpu_ms "$pid")
	wrk -t"$THREADS" -c"$CONNS" -d"$duration" --latency "http://127.0.0.1:${PORT[$t]}/" >"$file"
	read -r N_STABLE N_CANARY < <(counts)
	CPU_MS=$(($(cpu_ms "$pid") - cpu0))
	if [[ $t != direct && ($N_STABLE == 0 || $N_CANARY == 0) ]]; then
		cat "$file" "$OUT/$t.log" >&2
		die "$t sent $N_STABLE requests to stable and $N_CANARY to canary: it does not split"
	fi
}

main() {
	install_tools
	rm -rf "$OUT"
	mkdir -p "$OUT/wrk"
	write_configs
	start_all
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	log "machine: $(nproc) cores, load $LOAD_BEFORE; wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds"
	for t in "${TARGETS[@]}"; do
		measure "$t" "$OUT/wrk/warmup-$t.txt" "$WARMUP"
	done
	: >"$OUT/runs.tsv"
	local round i n=${#TARGETS[@]} t file
	for ((round = 1; round <= ROUNDS; round++)); do
		# Rotate the order each round, so that no target always runs first
		# or always follows the same neighbour.
		for ((i = 0; i < n; i++)); do
			t=${TARGETS[$(((i + round - 1) % n))]}
			file=wrk/$t-$round.txt
			measure "$t" "$OUT/$file" "$DURATION"
			# The same connections, paced to the same moderate rate for
			# every target: the latency a proxy adds when it is not
			# queueing behind a saturated CPU.
			wrk -t"$THREADS" -c"$CONNS" -d"$PACED_DURATION" --latency -s "$ROOT/bench/proxy/paced.lua" \
				"http://127.0.0.1:${PORT[$t]}/" >"$OUT/wrk/$t-$round-paced.txt"
			printf '%s\t%d\t%s\t%d\t%d\t%d\t%s\n' "$t" "$round" "$file" "$N_STABLE" "$N_CANARY" "$CPU_MS" "wrk/$t-$round-paced.txt" >>"$OUT/runs.tsv"
			log "round $round $t: $(grep -m1 Requests/sec "$OUT/$file" | tr -s ' ') canary $N_CANARY/$((N_STABLE + N_CANARY)), CPU ${CPU_MS}ms"
		done
	done
	if [[ ${PROFILE:-0} == 1 && -n ${PIDOF[fledge]:-} ]]; then
		kill -TERM "${PIDOF[fledge]}"
		wait "${PIDOF[fledge]}" || true
		go tool pprof -top -nodecount=40 "$BIN/fledgeproxy" "$OUT/fledge.cpu.pprof" >"$OUT/fledge.pprof.top.txt" 2>/dev/null
		log "Fledge's CPU profile: $OUT/fledge.cpu.pprof (top: $OUT/fledge.pprof.top.txt)"
	fi
	{
		echo "Proxy benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores (load before: $LOAD_BEFORE), wrk -t$THREADS -c$CONNS -d$DURATION --latency," \
			"paced at PACE_MS=$PACE_MS for $PACED_DURATION, medians of $ROUNDS rounds, Fledge with GOGC=${FLEDGE_GOGC:-400}"
		echo
		"$BIN/report" -runs "$OUT/runs.tsv" -json "$OUT/results.json"
	} | tee "$OUT/results.md"
}

main "$@"
