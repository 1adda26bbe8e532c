package v1alpha1

import (
	"strings"
	"testing"
	"time"
)

func TestDurationUnmarshal(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		"go duration":          {in: `"1m30s"`, want: 90 * time.Second},
		"seconds as number":    {in: `30`, want: 30 * time.Second},
		"seconds as string":    {in: `"30"`, want: 30 * time.Second},
		"fraction refused":     {in: `1.5`, wantErr: "whole number"},
		"overflow refused":     {in: `9223372036854775807`, wantErr: "too long"},
		"overflow as string":   {in: `"10000000000000"`, wantErr: "too long"},
		"garbage refused":      {in: `"soon"`, wantErr: `want a duration such as "30s"`},
		"wrong type refused":   {in: `true`, wantErr: "want a string"},
		"longest that fits ok": {in: `9223372036`, want: 9223372036 * time.Second},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var d Duration
			err := d.UnmarshalJSON([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("UnmarshalJSON(%s) = %v, %v; want error containing %q", tc.in, d.Duration, err, tc.wantErr)
				}
				return
			}
			if err != nil || d.Duration != tc.want {
				t.Fatalf("UnmarshalJSON(%s) = %v, %v; want %v", tc.in, d.Duration, err, tc.want)
			}
		})
	}
}
