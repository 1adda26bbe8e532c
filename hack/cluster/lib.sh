# Shared settings of the local control plane scripts (sourced, not run).
# Everything derives from the project's go.mod, so that the control plane is
# always the minor of the k8s.io/api the controller is built against.

set -euo pipefail

export PATH=/usr/local/go/bin:$PATH
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER_DIR=${CLUSTER_DIR:-$ROOT/.cluster}
WRAPPER=$ROOT/hack/cluster/k8s

# k8s.io/api v0.X.Y is published from k8s.io/kubernetes v1.X.Y.
API_VERSION=$(cd "$ROOT" && go list -m -f '{{.Version}}' k8s.io/api 2>/dev/null) || true
case $API_VERSION in
v0.*.*) ;;
*) echo "hack/cluster: no k8s.io/api v0.X.Y in $ROOT/go.mod (got '$API_VERSION')" >&2 && exit 1 ;;
esac
KUBE_VERSION=v1.${API_VERSION#v0.}
# kwok runs the fake nodes; it is built from its own go.mod (go install).
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}

CACHE=${FLEDGE_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fledge/cluster-$KUBE_VERSION}
BIN=$CACHE/bin

# Loopback ports. Override when something else holds them.
ETCD_PORT=${ETCD_PORT:-23790}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-23800}
APISERVER_PORT=${APISERVER_PORT:-26443}
KWOK_PORT=${KWOK_PORT:-26445}
SERVICE_CIDR=${SERVICE_CIDR:-10.96.0.0/16}

log() { printf '%s [cluster] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# since prints seconds elapsed since the epoch second $1.
since() { echo $(($(date +%s) - $1)); }
