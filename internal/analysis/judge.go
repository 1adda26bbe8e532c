package analysis

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
)

// Judge turns what a provider returned for metric m into a Measurement:
// an error is an Error measurement (it does not count as a measurement, see
// Assess), a window without data is Inconclusive with the provider's
// message, and a value is judged by Evaluate. started is the end of the
// measured window, finished when the provider answered.
func Judge(m v1alpha1.Metric, res provider.Result, err error, started, finished time.Time) v1alpha1.Measurement {
	out := v1alpha1.Measurement{
		StartedAt:  &metav1.Time{Time: started},
		FinishedAt: &metav1.Time{Time: finished},
	}
	switch {
	case err != nil:
		out.Phase, out.Message = v1alpha1.AnalysisError, err.Error()
	case res.NoData:
		out.Phase, out.Message = v1alpha1.AnalysisInconclusive, res.Message
		if out.Message == "" {
			out.Message = "no data"
		}
	default:
		var why string
		out.Phase, why = Evaluate(m, res.Value)
		out.Value = FormatValue(res.Value)
		out.Message = join(res.Message, why)
	}
	return out
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
