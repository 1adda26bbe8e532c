package prometheus

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"fledge.dev/fledge/internal/analysis/provider"
)

// response is the envelope of every Prometheus API answer.
type response struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// sample is a [time, "value"] pair.
type sample [2]json.RawMessage

func (s sample) value() (float64, error) {
	var text string
	if err := json.Unmarshal(s[1], &text); err != nil {
		return 0, fmt.Errorf("sample value %s is not a string", s[1])
	}
	return strconv.ParseFloat(text, 64) // accepts NaN, +Inf and -Inf
}

// series is one element of a vector (value) or a matrix (values).
type series struct {
	Metric    map[string]string `json:"metric"`
	Value     *sample           `json:"value"`
	Values    []sample          `json:"values"`
	Histogram json.RawMessage   `json:"histogram"`
}

// labels writes a series' labels as PromQL does: name{a="b", c="d"}.
func (s series) labels() string {
	keys := make([]string, 0, len(s.Metric))
	for k := range s.Metric {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(s.Metric[k])
	}
	return s.Metric["__name__"] + "{" + strings.Join(parts, ", ") + "}"
}

// decode turns a successful API answer into a Result. It is pure, so that
// every shape of answer is tested without a server.
func decode(body []byte) (provider.Result, error) {
	var r response
	if err := json.Unmarshal(body, &r); err != nil {
		return provider.Result{}, fmt.Errorf("the answer is not Prometheus API JSON: %w", err)
	}
	if r.Status != "success" {
		return provider.Result{}, apiError(r)
	}
	var res provider.Result
	var err error
	switch t := r.Data.ResultType; t {
	case "scalar", "string":
		res, err = scalar(t, r.Data.Result)
	case "vector":
		res, err = vector(r.Data.Result)
	case "matrix":
		res, err = matrix(r.Data.Result)
	default:
		return provider.Result{}, fmt.Errorf("unknown result type %q", t)
	}
	if err != nil {
		return provider.Result{}, err
	}
	if len(r.Warnings) > 0 {
		res.Message += "; warnings: " + strings.Join(r.Warnings, "; ")
	}
	return res, nil
}

// apiError is the error an answer with status "error" reports.
func apiError(r response) error {
	if r.Error == "" {
		return fmt.Errorf("status %q without an error message", r.Status)
	}
	if r.ErrorType != "" {
		return fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return fmt.Errorf("%s", r.Error)
}

func scalar(kind string, raw json.RawMessage) (provider.Result, error) {
	var s sample
	if err := json.Unmarshal(raw, &s); err != nil {
		return provider.Result{}, fmt.Errorf("%s result: %w", kind, err)
	}
	if kind == "string" {
		var text string
		if err := json.Unmarshal(s[1], &text); err != nil {
			return provider.Result{}, fmt.Errorf("string result: %w", err)
		}
		return provider.Result{Value: text, Message: "the query returned a string"}, nil
	}
	v, err := s.value()
	if err != nil {
		return provider.Result{}, fmt.Errorf("scalar result: %w", err)
	}
	if math.IsNaN(v) {
		return provider.Result{NoData: true, Message: "the query returned NaN (no data)"}, nil
	}
	return provider.Result{Value: v, Message: "the query returned a scalar"}, nil
}

// maxListed is how many series a message names.
const maxListed = 3

func vector(raw json.RawMessage) (provider.Result, error) {
	var ss []series
	if err := json.Unmarshal(raw, &ss); err != nil {
		return provider.Result{}, fmt.Errorf("vector result: %w", err)
	}
	if len(ss) == 0 {
		return provider.Result{NoData: true, Message: "the query returned no series (no data)"}, nil
	}
	values := make([]any, len(ss))
	var named []string
	for i, s := range ss {
		if s.Value == nil {
			if len(s.Histogram) > 0 {
				return provider.Result{}, fmt.Errorf("series %s is a native histogram: query a number from it, e.g. with histogram_quantile", s.labels())
			}
			return provider.Result{}, fmt.Errorf("series %s has no value", s.labels())
		}
		v, err := s.Value.value()
		if err != nil {
			return provider.Result{}, fmt.Errorf("series %s: %w", s.labels(), err)
		}
		if math.IsNaN(v) {
			return provider.Result{NoData: true, Message: fmt.Sprintf("series %s is NaN (no data)", s.labels())}, nil
		}
		values[i] = v
		if i < maxListed {
			named = append(named, s.labels()+" "+strconv.FormatFloat(v, 'g', 6, 64))
		}
	}
	msg := fmt.Sprintf("the query returned %d series: %s", len(ss), strings.Join(named, ", "))
	if len(ss) > maxListed {
		msg += ", ..."
	}
	if len(values) == 1 {
		return provider.Result{Value: values[0], Message: msg}, nil
	}
	return provider.Result{Value: values, Message: msg}, nil
}

func matrix(raw json.RawMessage) (provider.Result, error) {
	var ss []series
	if err := json.Unmarshal(raw, &ss); err != nil {
		return provider.Result{}, fmt.Errorf("matrix result: %w", err)
	}
	var values []any
	dropped := 0
	for _, s := range ss {
		if len(s.Values) == 0 && len(s.Histogram) > 0 {
			return provider.Result{}, fmt.Errorf("series %s holds native histograms: query a number from them", s.labels())
		}
		for _, pt := range s.Values {
			v, err := pt.value()
			if err != nil {
				return provider.Result{}, fmt.Errorf("series %s: %w", s.labels(), err)
			}
			if math.IsNaN(v) {
				dropped++
				continue
			}
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		msg := fmt.Sprintf("the range query returned no point (%d series; no data)", len(ss))
		if dropped > 0 {
			msg = fmt.Sprintf("the range query returned only NaN points (%d in %d series; no data)", dropped, len(ss))
		}
		return provider.Result{NoData: true, Message: msg}, nil
	}
	msg := fmt.Sprintf("the range query returned %d points of %d series", len(values), len(ss))
	if dropped > 0 {
		msg += fmt.Sprintf(" (%d NaN points left out)", dropped)
	}
	return provider.Result{Value: values, Message: msg}, nil
}
