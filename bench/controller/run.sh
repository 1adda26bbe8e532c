#!/usr/bin/env bash
# The controller benchmark (Fledge issue 4, "Scale"): N Rollouts through a
# canary (setWeight 25, 50, 75, promotion) on the local control plane, with
# the built `fledge controller` measured from outside. Prints a markdown
# table (also in bench/out/controller/report.md); see README.md beside it.
#
#   bench/controller/run.sh                 # 1000 rollouts
#   bench/controller/run.sh -n 50           # any flag of the Go program (go run ./bench/controller -h)
#   FLEDGE_BIN=/path/to/fledge bench/controller/run.sh -n 300
#
# It starts the control plane when it is not running (hack/cluster/up.sh,
# idempotent, binaries cached) with enough kwok nodes for 2.5 pods per
# rollout (250 pods a node), removes the nodes it added at the end, and
# leaves the control plane running: hack/cluster/down.sh stops it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$ROOT/bench/out/controller}
KUBECONFIG_FILE=$ROOT/.cluster/kubeconfig
cd "$ROOT"

# The number of rollouts, for the node count: the Go program's -n.
N=1000
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case ${args[i]} in
	-n | --n) N=${args[i + 1]:-$N} ;;
	-n=* | --n=*) N=${args[i]#*=} ;;
	esac
done
BASE_NODES=2 # hack/cluster/up.sh's default
NODES=$(((N * 5 / 2 + 249) / 250))
NODES=$((NODES < BASE_NODES ? BASE_NODES : NODES))

mkdir -p "$OUT"
NODES=$NODES hack/cluster/up.sh
KUBECTL=$(ls -d "${FLEDGE_CLUSTER_CACHE:-$HOME/.cache/fledge}"/cluster-v*/bin/kubectl | tail -n 1)
remove_nodes() {
	local i
	for ((i = BASE_NODES + 1; i <= NODES; i++)); do
		"$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" delete node "fledge-node-$i" --ignore-not-found >/dev/null || true
	done
}
trap remove_nodes EXIT

if [ -z "${FLEDGE_BIN:-}" ]; then
	FLEDGE_BIN=$OUT/fledge
	go build -o "$FLEDGE_BIN" ./cmd/fledge
fi
go build -o "$OUT/bench" ./bench/controller
"$OUT/bench" -kubeconfig "$KUBECONFIG_FILE" -fledge "$FLEDGE_BIN" -out "$OUT" "$@"
echo "(the control plane is still running: hack/cluster/down.sh stops it)" >&2
