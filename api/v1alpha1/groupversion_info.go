// Markers for controller-gen: deepcopy for every type of the package, and
// the API group the CRDs are generated under. (Apart from the package
// comment, which is doc.go's.)

// +kubebuilder:object:generate=true
// +groupName=fledge.dev

package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is fledge.dev/v1alpha1, as Kubernetes clients name it.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// knownTypes are the kinds served as CRDs, with their lists. Each kinds file
// adds its own in init, so that adding a kind is adding a file.
var knownTypes []runtime.Object

// register adds kinds (and their lists) to the scheme AddToScheme builds.
func register(objs ...runtime.Object) { knownTypes = append(knownTypes, objs...) }

// SchemeBuilder and AddToScheme register the fledge.dev/v1alpha1 kinds in a
// runtime.Scheme, for client-go and controller-runtime clients. The package
// depends only on apimachinery, so the local mode links no client.
var (
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	AddToScheme   = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
