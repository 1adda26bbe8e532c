#!/usr/bin/env bash
# Runs helm at the version hack/tools/go.mod pins: `hack/tools/helm.sh ARGS`.
# The first run compiles it (a few minutes on 2 cores) into the user's cache,
# next to the control plane's binaries (hack/cluster/lib.sh); later runs exec
# it at once. Not `go tool helm`: helm's own build sets its version and the
# Kubernetes version it renders for (.Capabilities.KubeVersion, the lint's
# deprecation checks) with -ldflags, which a plain build leaves at v1.20.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

version() { (cd "$ROOT" && go list -modfile=hack/tools/go.mod -m -f '{{.Version}}' "$1"); }

HELM_VERSION=$(version helm.sh/helm/v3)
CLIENT_GO=$(version k8s.io/client-go) # v0.X.Y: Kubernetes v1.X
minor=${CLIENT_GO#v0.}
minor=${minor%%.*}
cache=${FLEDGE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fledge}
helm=$cache/helm-$HELM_VERSION-k8s-v1.$minor/helm

if [ ! -x "$helm" ]; then
	echo "hack/tools/helm.sh: building helm $HELM_VERSION (Kubernetes v1.$minor) into $(dirname "$helm"), once" >&2
	mkdir -p "$(dirname "$helm")"
	ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
	for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
		ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$minor"
	done
	# Into a temporary name first: an interrupted build leaves nothing that
	# the next run would take for a good binary.
	(cd "$ROOT" && CGO_ENABLED=0 go build -modfile=hack/tools/go.mod -trimpath -ldflags "$ldflags" \
		-o "$helm.$$" helm.sh/helm/v3/cmd/helm)
	mv "$helm.$$" "$helm"
fi
exec "$helm" "$@"
