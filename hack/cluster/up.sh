#!/usr/bin/env bash
# Starts a real Kubernetes control plane on loopback, without containers:
# etcd (Debian's etcd-server), kube-apiserver, kube-controller-manager and
# kube-scheduler (built from k8s.io/kubernetes, see build.sh) and kwok, whose
# fake nodes take the pods the scheduler binds to them through their
# lifecycle (Pending -> Running and Ready), so Deployments really roll.
# Then it installs Fledge's CRDs and the routers' (Gateway API, Istio, an
# nginx IngressClass) and writes the admin kubeconfig to .cluster/kubeconfig.
#
# Idempotent: a component already running is left alone, and a second run
# only re-applies the CRDs. State (etcd's data, the PKI, logs, pids) lives in
# .cluster/; `make cluster-down` stops everything.
source "$(dirname "$0")/lib.sh"

LOGS=$CLUSTER_DIR/logs
PIDS=$CLUSTER_DIR/pids
PKI=$CLUSTER_DIR/pki
KUBECONFIG_FILE=$CLUSTER_DIR/kubeconfig
NODES=${NODES:-2}
GATEWAY_API_VERSION=${GATEWAY_API_VERSION:-v1.6.3}
ISTIO_API_VERSION=${ISTIO_API_VERSION:-v1.32.0}

kubectl() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

# running NAME tells whether the process NAME started is still alive (and
# is still ours: a recycled pid runs another program).
running() {
	local pid
	pid=$(cat "$PIDS/$1.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$1"
}

# start NAME PROGRAM ARGS...: runs it in the background in its own session
# (so that make's Ctrl-C does not reach it), logging to .cluster/logs.
start() {
	local name=$1
	shift
	if running "$name"; then
		log "$name already running (pid $(cat "$PIDS/$name.pid"))"
		return
	fi
	echo "=== $(date -Is) $*" >>"$LOGS/$name.log"
	setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
	echo $! >"$PIDS/$name.pid"
	log "$name started (pid $!)"
}

# await DESC SECONDS NAME COMMAND...: polls COMMAND until it succeeds; on
# timeout, or when process NAME died, shows its log and fails.
await() {
	local desc=$1 secs=$2 name=$3
	shift 3
	local deadline=$(($(date +%s) + secs))
	until "$@" >/dev/null 2>&1; do
		if [ -n "$name" ] && ! running "$name"; then
			tail -n 30 "$LOGS/$name.log" >&2
			die "$name exited while waiting for $desc (log: $LOGS/$name.log)"
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			[ -n "$name" ] && tail -n 30 "$LOGS/$name.log" >&2
			die "timed out after ${secs}s waiting for $desc"
		fi
		sleep 0.2
	done
}

# etcd_installed installs Debian's etcd-server when missing, without letting
# the package's own service run: this script runs etcd itself, on its own
# port and data directory.
etcd_installed() {
	command -v etcd >/dev/null && return
	[ "$(id -u)" = 0 ] || die "etcd is missing: apt-get install etcd-server (as root)"
	log "installing Debian's etcd-server"
	local policy=/usr/sbin/policy-rc.d made=""
	if [ ! -e $policy ]; then
		printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy && made=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q etcd-server >"$LOGS/apt.log" 2>&1 ||
		{ apt-get update -q >>"$LOGS/apt.log" 2>&1 && apt-get install -y -q etcd-server >>"$LOGS/apt.log" 2>&1; } ||
		{ [ -n "$made" ] && rm -f $policy; die "apt-get install etcd-server failed (see $LOGS/apt.log)"; }
	[ -n "$made" ] && rm -f $policy
	if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
		systemctl disable --now etcd >/dev/null 2>&1 || true
	fi
	command -v etcd >/dev/null || die "etcd-server installed no etcd binary"
}

start_etcd() {
	etcd_installed
	mkdir -p "$CLUSTER_DIR/etcd"
	chmod 700 "$CLUSTER_DIR/etcd"
	start etcd etcd --name fledge --data-dir "$CLUSTER_DIR/etcd" \
		--listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster "fledge=http://127.0.0.1:$ETCD_PEER_PORT" \
		--quota-backend-bytes 4294967296 --auto-compaction-retention 5m --auto-compaction-mode periodic
	await "etcd" 60 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
}

# start_apiserver: WatchList is off because Debian's etcd 3.4 cannot notify
# watch progress, which streaming lists need. With it on, the API server
# turns every watch from resourceVersion "0" (kwok's, always) into a
# streaming list, refuses it, and kwok sees a change only when it re-lists
# after a growing backoff: pods took 35 s to go Ready. Clients that ask for
# streaming lists themselves fall back to LIST then WATCH.
start_apiserver() {
	start kube-apiserver "$BIN/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$ETCD_PORT" --etcd-prefix /fledge \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
		--endpoint-reconciler-type none \
		--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
		--client-ca-file "$PKI/ca.crt" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
		--api-audiences https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--authorization-mode Node,RBAC \
		--feature-gates WatchList=false \
		--enable-priority-and-fairness=false \
		--profiling=false --v 1
	await "kube-apiserver /readyz" 120 kube-apiserver kubectl get --raw /readyz
}

start_controllers() {
	start kube-controller-manager "$BIN/kube-controller-manager" \
		--kubeconfig "$PKI/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
		--use-service-account-credentials \
		--service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
		--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
		--service-cluster-ip-range "$SERVICE_CIDR" \
		--controllers '*,-node-ipam-controller' \
		--profiling=false --v 1
	start kube-scheduler "$BIN/kube-scheduler" \
		--kubeconfig "$PKI/scheduler.kubeconfig" \
		--authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
		--authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 0 --leader-elect=false \
		--profiling=false --v 1
}

# kwok_config writes kwok's stages: the ones kwokctl uses by default, from
# the kwok module itself (nodes initialise and heartbeat with a lease; pods
# become Ready at once, complete, and go away on deletion).
kwok_config() {
	local dir conf=$CLUSTER_DIR/kwok.yaml
	dir=$(module_dir sigs.k8s.io/kwok "$KWOK_VERSION")
	local f first=1
	: >"$conf"
	for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		[ -n "$first" ] || echo '---' >>"$conf"
		first=""
		cat "$dir/kustomize/stage/$f" >>"$conf"
	done
	echo "$conf"
}

start_kwok() {
	local conf
	conf=$(kwok_config)
	start kwok "$BIN/kwok" --kubeconfig "$KUBECONFIG_FILE" --config "$conf" \
		--manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
		--node-ip 127.0.0.1 --cidr 10.244.0.1/16 --node-lease-duration-seconds 40 \
		--server-address "127.0.0.1:$KWOK_PORT"
}

# nodes declares the fake nodes kwok manages (the annotation) and waits for
# them to be Ready.
nodes() {
	local i
	for i in $(seq 1 "$NODES"); do
		cat <<NODE
apiVersion: v1
kind: Node
metadata:
  name: fledge-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: fledge-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "250"}
  capacity: {cpu: "32", memory: 256Gi, pods: "250"}
---
NODE
	done | kubectl apply -f - >/dev/null
	await "$NODES Ready node(s)" 60 kwok kubectl wait --for=condition=Ready node --all --timeout=2s
}

# module_dir MODULE VERSION prints where the Go module cache holds it,
# downloading it through the module proxy when needed.
module_dir() {
	(cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "$1@$2") |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

# crds installs Fledge's CRDs and the routers': Gateway API's standard
# channel and Istio's, from their Go modules, and an nginx IngressClass
# (Ingress itself is built in). Server-side apply: Istio's CRDs are too big
# for the last-applied annotation.
crds() {
	local gw istio
	gw=$(module_dir sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION")
	istio=$(module_dir istio.io/api "$ISTIO_API_VERSION")
	[ -d "$gw/config/crd/standard" ] || die "no CRDs in sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
	[ -f "$istio/kubernetes/customresourcedefinitions.gen.yaml" ] || die "no CRDs in istio.io/api@$ISTIO_API_VERSION"
	local apply=(apply --server-side --force-conflicts --field-manager fledge-cluster-up)
	kubectl "${apply[@]}" -f "$gw/config/crd/standard" >/dev/null
	kubectl "${apply[@]}" -f "$istio/kubernetes/customresourcedefinitions.gen.yaml" >/dev/null
	if compgen -G "$ROOT/config/crd/bases/*.yaml" >/dev/null; then
		kubectl "${apply[@]}" -f "$ROOT/config/crd/bases" >/dev/null
	else
		log "warning: no CRDs in config/crd/bases yet (make manifests)"
	fi
	kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
	kubectl "${apply[@]}" -f "$ROOT/hack/cluster/manifests" >/dev/null
}

main() {
	local t0 t
	t0=$(date +%s)
	mkdir -p "$LOGS" "$PIDS" "$CACHE"
	"$ROOT/hack/cluster/build.sh"
	"$ROOT/hack/cluster/pki.sh"
	t=$(date +%s)
	start_etcd
	start_apiserver
	log "etcd and kube-apiserver ready in $(since "$t")s"
	t=$(date +%s)
	start_controllers
	start_kwok
	nodes
	# The controller-manager works once it has made the default namespace's
	# ServiceAccount, which every pod needs before it can be created.
	await "the controller-manager (ServiceAccount default/default)" 60 kube-controller-manager \
		kubectl get serviceaccount default --namespace default
	running kube-scheduler || die "kube-scheduler exited (log: $LOGS/kube-scheduler.log)"
	log "controller-manager, scheduler, kwok and $NODES node(s) ready in $(since "$t")s"
	t=$(date +%s)
	crds
	log "CRDs installed in $(since "$t")s"
	log "cluster up in $(since "$t0")s: export KUBECONFIG=$KUBECONFIG_FILE (kubectl: $BIN/kubectl)"
}

main "$@"
