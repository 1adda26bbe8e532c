// Package cluster holds the integration tests of the Kubernetes mode: they
// run `fledge controller` as a subprocess against the real local control
// plane (make cluster-up; or the one FLEDGE_KUBECONFIG names) and check what
// it does through the API server: weights read back from the routers'
// objects, Deployments, Services, status and Events. FLEDGE_SKIP_CLUSTER=1
// skips them.
package cluster
