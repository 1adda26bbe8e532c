package nginx

import (
	"context"
	"errors"
	"testing"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/router/service"
)

// TestMirrorRefused: ingress-nginx cannot mirror from a canary Ingress, so
// a mirror route is refused before anything is written (validation refuses
// it first; this guards a spec that skipped it).
func TestMirrorRefused(t *testing.T) {
	r := &Router{} // no client: the refusal must come before any read or write
	p := int32(10)
	err := r.SetWeights(context.Background(), service.Canary{Weight: 5,
		Mirrors: []v1alpha1.SetMirrorRoute{{Name: "all", Percentage: &p}}})
	if !errors.Is(err, ErrNoMirror) {
		t.Fatalf("SetWeights with a mirror route: %v, want ErrNoMirror", err)
	}
}
