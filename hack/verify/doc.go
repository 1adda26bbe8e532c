// Package verify holds the tests that keep generated files honest: the CRDs
// in config/crd/bases (and their copies in charts/fledge/crds) and
// api/v1alpha1/zz_generated.deepcopy.go must be what controller-gen (pinned
// in hack/tools/go.mod) makes from the Go types today, so that a field added
// to a type without `make manifests generate` fails the build instead of
// reaching a cluster as a schema that prunes it.
package verify
