package v1alpha1

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
