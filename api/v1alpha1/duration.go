package v1alpha1

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Duration is a length of time written as a Go duration string ("30s",
// "1m30s") or a whole number of seconds (30), as Argo Rollouts accepts.
// In the CRD it is an int-or-string, as the API server cannot parse Go
// durations; Validate (and the controller) check the value. (The json tag
// only hides the embedded field from controller-gen: MarshalJSON and
// UnmarshalJSON do the encoding.)
// +kubebuilder:validation:XIntOrString
// +kubebuilder:validation:Type=""
type Duration struct {
	time.Duration `json:"-"`
}

// Seconds builds a Duration of n seconds.
func Seconds(n int) *Duration { return &Duration{time.Duration(n) * time.Second} }

// UnmarshalJSON accepts "30s" or 30.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		secs, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return fmt.Errorf("duration %s: a number of seconds must be a whole number", n)
		}
		d.Duration, err = fromSeconds(secs)
		return err
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"30s\" or a number of seconds, got %s", b)
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		d.Duration, err = fromSeconds(secs)
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a duration such as \"30s\" or \"1m30s\"", s)
	}
	d.Duration = v
	return nil
}

// maxSeconds is the longest duration time.Duration holds, about 292 years.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// fromSeconds converts whole seconds, refusing what would overflow instead
// of wrapping to a negative or tiny duration.
func fromSeconds(secs int64) (time.Duration, error) {
	if secs > maxSeconds || secs < -maxSeconds {
		return 0, fmt.Errorf("duration %d seconds: too long (at most %d)", secs, maxSeconds)
	}
	return time.Duration(secs) * time.Second, nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Duration.String())
}
