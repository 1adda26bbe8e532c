package v1alpha1

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that no input makes decoding, defaulting or
// validation panic, and that whatever Load accepts survives a trip
// through JSON: written out and loaded again, it is the same spec.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(head + "spec: {replicas: 1}\n---\nkind: AnalysisTemplate\n"))
	f.Add([]byte(`{"apiVersion": "fledge.dev/v1alpha1", "kind": "Rollout", "spec": {"strategy": {"canary": {"steps": [{"pause": {"duration": 30}}]}}}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		// Validate must not panic on objects that were never defaulted.
		if objs, err := Decode(data); err == nil {
			for _, o := range objs {
				_ = o.Validate()
			}
		} else {
			_ = err.Error()
		}
		rs, err := Load(data)
		if err != nil {
			_ = err.Error()
			return
		}
		for _, r := range rs {
			out, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("marshal %s: %v", r.Name, err)
			}
			back, err := Load(out)
			if err != nil {
				t.Fatalf("Load accepted %q but not its JSON %s:\n%v", data, out, err)
			}
			if len(back) != 1 {
				t.Fatalf("JSON of one Rollout loaded as %d", len(back))
			}
			want, _ := json.Marshal(r.Spec)
			got, _ := json.Marshal(back[0].Spec)
			if !bytes.Equal(want, got) || back[0].Name != r.Name {
				t.Fatalf("round trip changed the spec:\n%s\n%s", want, got)
			}
		}
	})
}
