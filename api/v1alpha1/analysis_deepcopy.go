package v1alpha1

// DeepCopyInto copies a BuiltinMetric, by hand: controller-gen cannot name
// the *struct{} of its measures.
func (in *BuiltinMetric) DeepCopyInto(out *BuiltinMetric) {
	*out = *in
	for _, m := range []**struct{}{&out.SuccessRate, &out.ErrorRate, &out.LatencyP50, &out.LatencyP95, &out.LatencyP99, &out.RequestRate} {
		if *m != nil {
			*m = &struct{}{}
		}
	}
}

// DeepCopy copies a BuiltinMetric.
func (in *BuiltinMetric) DeepCopy() *BuiltinMetric {
	if in == nil {
		return nil
	}
	out := new(BuiltinMetric)
	in.DeepCopyInto(out)
	return out
}
