package analysis

import (
	"errors"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
)

func TestJudge(t *testing.T) {
	tests := map[string]struct {
		res       provider.Result
		err       error
		want      v1alpha1.AnalysisPhase
		wantValue string
		wantInMsg []string
	}{
		"value that passes": {
			res: provider.Result{Value: 0.99512, Message: "4 errors in 1000 requests"}, want: v1alpha1.AnalysisSuccessful,
			wantValue: "0.9951", wantInMsg: []string{"4 errors in 1000 requests", "successCondition result >= 0.99 is met"},
		},
		"value that fails": {
			res: provider.Result{Value: 0.8}, want: v1alpha1.AnalysisFailed, wantValue: "0.8", wantInMsg: []string{"is not met"},
		},
		"no data is inconclusive": {
			res:  provider.Result{NoData: true, Message: "no requests to canary revision 3 in the last 5s"},
			want: v1alpha1.AnalysisInconclusive, wantInMsg: []string{"no requests to canary revision 3 in the last 5s"},
		},
		"no data without a message": {
			res: provider.Result{NoData: true}, want: v1alpha1.AnalysisInconclusive, wantInMsg: []string{"no data"},
		},
		"provider error": {
			err: errors.New("connection refused"), want: v1alpha1.AnalysisError, wantInMsg: []string{"connection refused"},
		},
		"error wins over a value": {
			res: provider.Result{Value: 1.0}, err: errors.New("timeout"), want: v1alpha1.AnalysisError,
		},
	}
	start, end := t0, t0.Add(time.Millisecond)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Judge(metric(), tc.res, tc.err, start, end)
			if got.Phase != tc.want || got.Value != tc.wantValue {
				t.Fatalf("Judge = %s %q (%s), want %s %q", got.Phase, got.Value, got.Message, tc.want, tc.wantValue)
			}
			for _, s := range tc.wantInMsg {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q does not contain %q", got.Message, s)
				}
			}
			if !got.StartedAt.Time.Equal(start) || !got.FinishedAt.Time.Equal(end) {
				t.Errorf("times %v %v, want %v %v", got.StartedAt, got.FinishedAt, start, end)
			}
		})
	}
}
