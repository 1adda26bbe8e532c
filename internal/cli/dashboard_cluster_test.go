package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The cluster flags need --kubeconfig, and a kubeconfig that cannot be
// read is named in the error, before anything is served.
func TestDashboardClusterFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(bad, []byte("not: [a kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		args []string
		want string
	}{
		"namespace alone": {args: []string{"dashboard", "-n", "prod"}, want: "need --kubeconfig"},
		"context alone":   {args: []string{"dashboard", "--context", "kind"}, want: "need --kubeconfig"},
		"missing file":    {args: []string{"dashboard", "--kubeconfig", filepath.Join(dir, "nope")}, want: "--kubeconfig " + filepath.Join(dir, "nope")},
		"unreadable file": {args: []string{"dashboard", "--kubeconfig", bad}, want: "--kubeconfig " + bad},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, errOut, code := fledge(t, filepath.Join(dir, "state"), tt.args...)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q: want an error containing %q", code, errOut, tt.want)
			}
		})
	}
}
