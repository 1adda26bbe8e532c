package rollout

import (
	"testing"
)

// FuzzDecide drives a world whose spec (steps, analyses, strategy),
// observations, lags and commands all come from the fuzzer's bytes, and
// checks every decision against the engine's contract; Decide must not
// panic. Its world also edits the status by hand now and then.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte("canary: setWeight 5, pause, header route, analysis, setWeight 50, pause, setWeight 100"))
	f.Add([]byte{10, 200, 3, 7, 1, 0, 0, 2, 5, 9, 33, 4, 250, 128, 64, 32, 16, 8, 4, 2, 1, 0, 99, 98, 97})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := &byteEntropy{b: data}
		w := newWorld(e, randomRollout(e, 0))
		w.hostile = true
		for i := 0; i < 100 && !e.done(); i++ {
			if errs := w.tick(); len(errs) > 0 {
				t.Fatalf("tick %d: %v\nspec: %+v\nlast decisions:\n%s", i, errs, w.ro.Spec.Strategy, w.lastTrace(12))
			}
		}
	})
}
