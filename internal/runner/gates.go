package runner

import (
	"context"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/gate"
	"fledge.dev/fledge/internal/rollout"
)

// startGates starts the poller of the rollout's webhook gates: it calls
// them off the decision loop and kicks the worker when an answer changes.
func (w *worker) startGates(ctx context.Context) {
	w.gates = gate.NewPoller(ctx, gate.Config{Changed: w.kick, Logger: w.log})
}

// wantGates hands the poller the gates the decision waits on, with the
// payload of the decided state.
func (w *worker) wantGates(ro *v1alpha1.Rollout, dec rollout.Decision) {
	st := dec.Status
	w.gates.Want(dec.Gates, ro.Spec.Strategy.Webhooks(), gate.Payload{
		Name: ro.Name, Namespace: ro.Namespace, Phase: string(st.Phase),
		Revision: gate.Revisions{Stable: st.StableRevision, Canary: st.CanaryRevision},
		Weight:   st.CanaryWeight,
	})
}
