package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KindClusterTemplate is the cluster-scoped AnalysisTemplate's kind.
const KindClusterTemplate = "ClusterAnalysisTemplate"

// ClusterAnalysisTemplate is an AnalysisTemplate shared by every namespace,
// named from a Rollout with clusterScope: true.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=fledge
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAnalysisTemplate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AnalysisTemplateSpec `json:"spec"`
}

// The lists, which Kubernetes clients need to list and watch each kind.

// ClusterAnalysisTemplateList is a list of ClusterAnalysisTemplates.
// +kubebuilder:object:root=true
type ClusterAnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterAnalysisTemplate `json:"items"`
}

// AnalysisTemplateList is a list of AnalysisTemplates.
// +kubebuilder:object:root=true
type AnalysisTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisTemplate `json:"items"`
}

// AnalysisRunList is a list of AnalysisRuns.
// +kubebuilder:object:root=true
type AnalysisRunList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AnalysisRun `json:"items"`
}

func init() {
	register(&ClusterAnalysisTemplate{}, &ClusterAnalysisTemplateList{},
		&AnalysisTemplateList{}, &AnalysisRunList{})
}
