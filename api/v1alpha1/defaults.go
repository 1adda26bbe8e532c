package v1alpha1

import "time"

// The defaults, in one place. Default fills every unset field that has one,
// so that the engine and the edges never guess; it is idempotent.
const (
	DefaultReplicas                = 1
	DefaultRevisionHistoryLimit    = 10
	DefaultProgressDeadlineSeconds = 600
	DefaultTerminationGrace        = 30
	DefaultScaleDownDelaySeconds   = 30
	DefaultFailoverMaxBodyBytes    = 1 << 20
	DefaultConsecutiveErrorLimit   = 4
	DefaultProbeTimeoutSeconds     = 1
	DefaultProbePeriodSeconds      = 10
	DefaultProbeSuccessThreshold   = 1
	DefaultProbeFailureThreshold   = 3
	// DefaultBlockingCount is the count of a metric without one in an
	// analysis the rollout waits for (step, pre- or post-promotion), when
	// the metric has an interval.
	DefaultBlockingCount = 3
	// DefaultPrometheusTimeout bounds one Prometheus query, as Argo Rollouts.
	DefaultPrometheusTimeout = 30 * time.Second
	// DefaultWebTimeoutSeconds bounds one web request, as Argo Rollouts.
	DefaultWebTimeoutSeconds = 10
	// DefaultJobSuccessCondition judges a job metric without conditions:
	// exit status 0 is success.
	DefaultJobSuccessCondition = "result == 0"
)

// Defaults of the judge, good without tuning (the statistics in
// internal/analysis/stats use the same; a test there checks it).
const (
	DefaultJudgeName     = "judge"
	DefaultJudgeInterval = time.Second
	// DefaultJudgePrometheusInterval is a judge's interval on Prometheus:
	// its counters move once a scrape (commonly every 15 s), so judging
	// more often reads the same figures again.
	DefaultJudgePrometheusInterval = 15 * time.Second
	DefaultJudgeAlpha              = 0.01
	DefaultJudgeMaxRelativeRisk    = 1.0
	// DefaultJudgePassFactor makes passRelativeRisk this multiple of
	// maxRelativeRisk when it is not given.
	DefaultJudgePassFactor     = 2.0
	DefaultJudgeMinRequests    = 100
	DefaultJudgeStableQuantile = 0.99
)

// Defaults of a range query: the measured window.
const (
	DefaultRangeStart = "windowStart()"
	DefaultRangeEnd   = "now()"
	// DefaultJSONPath selects the whole response.
	DefaultJSONPath = "{$}"
)

// DefaultFailoverMethods are the idempotent methods retried on stable.
var DefaultFailoverMethods = []string{"GET", "HEAD", "OPTIONS"}

// Default fills the unset fields of a Rollout's spec.
func (r *Rollout) Default() {
	if r.APIVersion == "" {
		r.APIVersion = APIVersion
	}
	if r.Kind == "" {
		r.Kind = KindRollout
	}
	s := &r.Spec
	setInt32(&s.Replicas, DefaultReplicas)
	setInt32(&s.RevisionHistoryLimit, DefaultRevisionHistoryLimit)
	setInt32(&s.ProgressDeadlineSeconds, DefaultProgressDeadlineSeconds)
	setBool(&s.ProgressDeadlineAbort, true)
	if s.TerminationGracePeriodSeconds == nil {
		v := int64(DefaultTerminationGrace)
		s.TerminationGracePeriodSeconds = &v
	}
	if t := s.Template; t != nil {
		defaultProbe(t.ReadinessProbe)
		defaultProbe(t.LivenessProbe)
		defaultProbe(t.StartupProbe)
	}
	if c := s.Strategy.Canary; c != nil {
		setInt32(&c.ScaleDownDelaySeconds, DefaultScaleDownDelaySeconds)
		defaultRouting(c.TrafficRouting)
		if c.Analysis != nil {
			setInt32(&c.Analysis.StartingStep, 0)
		}
		for i := range c.Steps {
			if m := c.Steps[i].SetMirrorRoute; m != nil && m.Percentage == nil && len(m.Match) > 0 {
				setInt32(&m.Percentage, 100)
			}
		}
	}
	if b := s.Strategy.BlueGreen; b != nil {
		setBool(&b.AutoPromotionEnabled, true)
		setInt32(&b.ScaleDownDelaySeconds, DefaultScaleDownDelaySeconds)
		defaultRouting(b.TrafficRouting)
	}
	for i := range s.AnalysisTemplates {
		s.AnalysisTemplates[i].AnalysisTemplateSpec.Default()
	}
}

// Default fills the unset fields of a template's metrics.
func (t *AnalysisTemplateSpec) Default() {
	for i := range t.Metrics {
		m := &t.Metrics[i]
		setInt32(&m.FailureLimit, 0)
		setInt32(&m.InconclusiveLimit, 0)
		setInt32(&m.ConsecutiveErrorLimit, DefaultConsecutiveErrorLimit)
		if b := m.Provider.Builtin; b != nil && b.Version == "" {
			b.Version = "canary"
		}
		defaultProviders(m)
	}
	if t.Judge != nil {
		t.Judge.Default()
	}
	if t.InconclusivePolicy == "" {
		t.InconclusivePolicy = InconclusivePause
	}
}

// Default fills the unset fields of a judge.
func (j *Judge) Default() {
	setString(&j.Name, DefaultJudgeName)
	if j.Interval == nil {
		j.Interval = &Duration{DefaultJudgeInterval}
		if j.Prometheus != nil {
			j.Interval = &Duration{DefaultJudgePrometheusInterval}
		}
	}
	if j.Alpha == nil {
		j.Alpha = Dec(DefaultJudgeAlpha)
	}
	if j.MaxRelativeRisk == nil {
		j.MaxRelativeRisk = Dec(DefaultJudgeMaxRelativeRisk)
	}
	if j.PassRelativeRisk == nil {
		j.PassRelativeRisk = Dec(DefaultJudgePassFactor * j.MaxRelativeRisk.Value)
	}
	if j.MinRequests == nil {
		n := int64(DefaultJudgeMinRequests)
		j.MinRequests = &n
	}
	if j.Latency == nil {
		j.Latency = &JudgeLatency{}
	}
	if l := j.Latency; !l.Disabled && l.Threshold == nil && l.StableQuantile == nil {
		l.StableQuantile = Dec(DefaultJudgeStableQuantile)
	}
	setBool(&j.HoldWeight, true)
}

// defaultProviders fills the unset fields of the Prometheus, web and job
// providers.
func defaultProviders(m *Metric) {
	if p := m.Provider.Prometheus; p != nil {
		if p.Timeout == nil {
			p.Timeout = &Duration{DefaultPrometheusTimeout}
		}
		if r := p.RangeQuery; r != nil {
			setString(&r.Start, DefaultRangeStart)
			setString(&r.End, DefaultRangeEnd)
		}
	}
	if w := m.Provider.Web; w != nil {
		if w.Method == "" {
			w.Method = "GET"
			if w.Body != "" || len(w.JSONBody) > 0 {
				w.Method = "POST"
			}
		}
		if w.TimeoutSeconds == 0 {
			w.TimeoutSeconds = DefaultWebTimeoutSeconds
		}
		setString(&w.JSONPath, DefaultJSONPath)
	}
	if m.Provider.Job != nil && m.SuccessCondition == "" && m.FailureCondition == "" {
		m.SuccessCondition = DefaultJobSuccessCondition
	}
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func defaultRouting(t *TrafficRouting) {
	if t == nil || t.Proxy == nil {
		return
	}
	if t.Proxy.CanaryFailover == nil {
		t.Proxy.CanaryFailover = &CanaryFailover{}
	}
	f := t.Proxy.CanaryFailover
	setBool(&f.Enabled, true)
	if len(f.Methods) == 0 {
		f.Methods = append([]string(nil), DefaultFailoverMethods...)
	}
	if f.MaxBodyBytes == nil {
		v := int64(DefaultFailoverMaxBodyBytes)
		f.MaxBodyBytes = &v
	}
}

func defaultProbe(p *Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = DefaultProbeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = DefaultProbePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = DefaultProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = DefaultProbeFailureThreshold
	}
}

func setInt32(p **int32, v int32) {
	if *p == nil {
		*p = &v
	}
}

func setBool(p **bool, v bool) {
	if *p == nil {
		*p = &v
	}
}

// Int32 returns *p, or 0 when p is nil.
func Int32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// Bool returns *p, or false when p is nil.
func Bool(p *bool) bool { return p != nil && *p }
