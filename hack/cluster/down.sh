#!/usr/bin/env bash
# Stops the local control plane that up.sh started, by the pids it wrote in
# .cluster/pids: kwok and the controllers first, etcd last. Idempotent.
# Keeps etcd's data, so that the next cluster-up resumes the same cluster;
# --purge removes .cluster/ altogether.
source "$(dirname "$0")/lib.sh"

PIDS=$CLUSTER_DIR/pids

# stop NAME: SIGTERM, then SIGKILL after 10s, only when the pid is still the
# process up.sh started (its command line names it).
stop() {
	local name=$1 pid i
	pid=$(cat "$PIDS/$name.pid" 2>/dev/null) || return 0
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$name"; then
		kill "$pid"
		for i in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "$name (pid $pid) did not stop in 10s: SIGKILL"
			kill -9 "$pid" 2>/dev/null || true
		fi
		log "$name stopped"
	fi
	rm -f "$PIDS/$name.pid"
}

main() {
	local t0 name
	t0=$(date +%s)
	for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
		stop "$name"
	done
	if [ "${1:-}" = "--purge" ]; then
		rm -rf "$CLUSTER_DIR"
		log "removed $CLUSTER_DIR"
	fi
	log "cluster down in $(since "$t0")s"
}

main "$@"
