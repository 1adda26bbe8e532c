package prometheus

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/analysis/provider"
)

// TestDecode covers every shape of answer the HTTP API documents; the
// integration tests get the same shapes from a real server.
func TestDecode(t *testing.T) {
	const ok = `{"status":"success","data":`
	tests := map[string]struct {
		body      string
		want      any
		noData    bool
		wantInMsg string
	}{
		"scalar":            {body: ok + `{"resultType":"scalar","result":[1700000000.5,"0.25"]}}`, want: 0.25},
		"scalar NaN":        {body: ok + `{"resultType":"scalar","result":[1700000000,"NaN"]}}`, noData: true, wantInMsg: "NaN (no data)"},
		"string":            {body: ok + `{"resultType":"string","result":[1700000000,"hello"]}}`, want: "hello"},
		"one series":        {body: ok + `{"resultType":"vector","result":[{"metric":{"rollout":"web"},"value":[1700000000,"0.99"]}]}}`, want: 0.99, wantInMsg: `1 series: {rollout="web"} 0.99`},
		"two series":        {body: ok + `{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1,"1"]},{"metric":{"job":"b"},"value":[1,"0"]}]}}`, want: []any{1.0, 0.0}, wantInMsg: `2 series: up{job="a"} 1, {job="b"} 0`},
		"infinity is data":  {body: ok + `{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}`, want: posInf},
		"no series":         {body: ok + `{"resultType":"vector","result":[]}}`, noData: true, wantInMsg: "no series (no data)"},
		"a NaN series":      {body: ok + `{"resultType":"vector","result":[{"metric":{"r":"a"},"value":[1,"1"]},{"metric":{"r":"b"},"value":[1,"NaN"]}]}}`, noData: true, wantInMsg: `series {r="b"} is NaN`},
		"matrix":            {body: ok + `{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[1,"1"],[2,"2"]]},{"metric":{"a":"2"},"values":[[1,"3"]]}]}}`, want: []any{1.0, 2.0, 3.0}, wantInMsg: "3 points of 2 series"},
		"matrix with gaps":  {body: ok + `{"resultType":"matrix","result":[{"metric":{},"values":[[1,"NaN"],[2,"0.5"]]}]}}`, want: []any{0.5}, wantInMsg: "(1 NaN points left out)"},
		"empty matrix":      {body: ok + `{"resultType":"matrix","result":[]}}`, noData: true, wantInMsg: "no point (0 series; no data)"},
		"all NaN matrix":    {body: ok + `{"resultType":"matrix","result":[{"metric":{},"values":[[1,"NaN"]]}]}}`, noData: true, wantInMsg: "only NaN points"},
		"warnings are kept": {body: `{"status":"success","warnings":["partial answer"],"data":{"resultType":"scalar","result":[1,"2"]}}`, want: 2.0, wantInMsg: "warnings: partial answer"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := decode([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if res.NoData != tc.noData || !reflect.DeepEqual(res.Value, tc.want) {
				t.Errorf("decode = %+v, want value %v, no data %v", res, tc.want, tc.noData)
			}
			if !strings.Contains(res.Message, tc.wantInMsg) {
				t.Errorf("message %q does not contain %q", res.Message, tc.wantInMsg)
			}
		})
	}
}

var posInf = math.Inf(1)

func TestDecodeErrors(t *testing.T) {
	tests := map[string]struct{ body, want string }{
		"PromQL error":     {body: `{"status":"error","errorType":"bad_data","error":"parse error at char 5"}`, want: "bad_data: parse error at char 5"},
		"not JSON":         {body: `<html>`, want: "not Prometheus API JSON"},
		"unknown type":     {body: `{"status":"success","data":{"resultType":"streams","result":[]}}`, want: `unknown result type "streams"`},
		"native histogram": {body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"h"},"histogram":[1,{}]}]}}`, want: "native histogram"},
		"bad sample":       {body: `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}`, want: `parsing "abc"`},
		"no message":       {body: `{"status":"error"}`, want: `status "error" without an error message`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := decode([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRequest checks the form of instant and range queries, with the
// window of the measurement.
func TestRequest(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	env := provider.Env{WindowStart: now.Add(-30 * time.Second), Now: now}
	step := &v1alpha1.Duration{Duration: 15 * time.Second}
	tests := map[string]struct {
		metric   v1alpha1.PrometheusMetric
		endpoint string
		form     map[string]string
	}{
		"instant at the end of the window": {
			metric:   v1alpha1.PrometheusMetric{Query: "up"},
			endpoint: "api/v1/query", form: map[string]string{"query": "up", "time": "1767323045.000", "timeout": "30"},
		},
		"range over the window": {
			metric:   v1alpha1.PrometheusMetric{Query: "up", RangeQuery: &v1alpha1.PrometheusRangeQuery{Step: step}},
			endpoint: "api/v1/query_range", form: map[string]string{"query": "up", "start": "1767323015.000", "end": "1767323045.000", "step": "15", "timeout": "30"},
		},
		"range as Argo writes it": {
			metric: v1alpha1.PrometheusMetric{Query: "up", RangeQuery: &v1alpha1.PrometheusRangeQuery{
				Step: step, Start: `now() - duration("1h")`, End: `now() - duration("500ms")`}},
			endpoint: "api/v1/query_range", form: map[string]string{"query": "up", "start": "1767319445.000", "end": "1767323044.500", "step": "15", "timeout": "30"},
		},
		"fixed range": {
			metric: v1alpha1.PrometheusMetric{Query: "up", RangeQuery: &v1alpha1.PrometheusRangeQuery{
				Step: &v1alpha1.Duration{Duration: 1500 * time.Millisecond}, Start: `timestamp("2026-01-01T00:00:00Z")`, End: `windowStart()`}},
			endpoint: "api/v1/query_range", form: map[string]string{"query": "up", "start": "1767225600.000", "end": "1767323015.000", "step": "1.5", "timeout": "30"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			endpoint, form, err := request(&tc.metric, env, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k := range form {
				got[k] = form.Get(k)
			}
			if endpoint != tc.endpoint || !reflect.DeepEqual(got, tc.form) {
				t.Errorf("request = %s %v, want %s %v", endpoint, got, tc.endpoint, tc.form)
			}
		})
	}
	bad := map[string]struct {
		r    v1alpha1.PrometheusRangeQuery
		want string
	}{
		"end before start": {r: v1alpha1.PrometheusRangeQuery{Step: step, Start: "now()", End: "windowStart()"}, want: "end 2026-01-02T03:03:35Z is before start 2026-01-02T03:04:05Z"},
		"not CEL":          {r: v1alpha1.PrometheusRangeQuery{Step: step, Start: "now("}, want: `rangeQuery.start "now(": invalid CEL expression`},
		"no step":          {r: v1alpha1.PrometheusRangeQuery{}, want: "rangeQuery.step must be positive"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			_, _, err := request(&v1alpha1.PrometheusMetric{Query: "up", RangeQuery: &tc.r}, env, time.Second)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("request error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
