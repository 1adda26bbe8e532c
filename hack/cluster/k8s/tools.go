//go:build tools

// Package k8s pins the commands hack/cluster/build.sh builds, so that go mod
// tidy keeps their dependencies in this wrapper module's go.sum.
package k8s

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
