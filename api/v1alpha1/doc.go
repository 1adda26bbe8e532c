// Package v1alpha1 holds the fledge.dev/v1alpha1 API: the Rollout and
// AnalysisTemplate types shared by every mode (the local daemon reads them from
// YAML, the Kubernetes controller serves them as CRDs), their defaults (one
// Default method per kind) and their validation (Validate, which names the
// field path and the reason of every mistake).
//
// Spec field comments are written for users: they become the CRD
// descriptions and the reference documentation.
package v1alpha1
