package nginx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/rollout"
	"fledge.dev/fledge/internal/router"
	"fledge.dev/fledge/internal/router/service"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func init() { router.Register("nginx", New) }

// The ingress-nginx annotations the canary Ingress carries.
const (
	annPrefix         = "nginx.ingress.kubernetes.io/"
	AnnCanary         = annPrefix + "canary"
	AnnWeight         = annPrefix + "canary-weight"
	AnnByHeader       = annPrefix + "canary-by-header"
	AnnByHeaderValue  = annPrefix + "canary-by-header-value"
	AnnByHeaderRegexp = annPrefix + "canary-by-header-pattern"
	AnnByCookie       = annPrefix + "canary-by-cookie"
	// AnnHeaderRoutes records the header routes applied, to read them back.
	AnnHeaderRoutes = "fledge.dev/header-routes"
)

// Router keeps the canary Ingress of a rollout.
type Router struct {
	c      client.Client
	ro     *v1alpha1.Rollout
	stable types.NamespacedName
}

var _ router.Router = (*Router)(nil)

// New builds the router for the rollout's trafficRouting.nginx.
func New(cfg router.Config) (router.Router, error) {
	if cfg.Kube == nil {
		return nil, fmt.Errorf("the nginx router needs a Kubernetes client (Kubernetes mode)")
	}
	tr := cfg.Rollout.Spec.Strategy.TrafficRouting()
	if tr == nil || tr.NGINX == nil {
		return nil, fmt.Errorf("rollout %s has no trafficRouting.nginx", cfg.Rollout.Name)
	}
	return &Router{c: cfg.Kube, ro: cfg.Rollout,
		stable: types.NamespacedName{Namespace: cfg.Rollout.Namespace, Name: tr.NGINX.StableIngress}}, nil
}

// CanaryName is the canary Ingress's name.
func (r *Router) CanaryName() string { return r.stable.Name + "-canary" }

// SetTraffic applies t (see service.Route for the order).
func (r *Router) SetTraffic(ctx context.Context, t rollout.Traffic) error {
	return service.Route(ctx, r.c, r.ro, r, t)
}

// Observed reads the canary Ingress and the Services back.
func (r *Router) Observed(ctx context.Context) (rollout.Traffic, error) {
	return service.Observe(ctx, r.c, r.ro, r)
}

// ErrNoMirror says why this router refuses mirror routes (validation
// refuses them first; this guards a spec that skipped it).
var ErrNoMirror = errors.New("the nginx router cannot mirror requests: ingress-nginx reads mirror-target only on the user's Ingress " +
	"(a canary Ingress's other annotations are ignored), for every request, with no percentage and no match: use gatewayAPI or istio")

// SetWeights writes the canary Ingress from the user's: its rules with the
// canary Service as backend, and the annotations for weight and headers.
func (r *Router) SetWeights(ctx context.Context, c service.Canary) error {
	if len(c.Mirrors) > 0 {
		return fmt.Errorf("mirror route %q: %w", c.Mirrors[0].Name, ErrNoMirror)
	}
	weight, headers := c.Weight, c.Headers
	ann, err := annotations(weight, headers)
	if err != nil {
		return err
	}
	var stable networkingv1.Ingress
	if err := r.c.Get(ctx, r.stable, &stable); err != nil {
		return fmt.Errorf("read Ingress %s: %w", r.stable, err)
	}
	spec := *stable.Spec.DeepCopy()
	spec.DefaultBackend = r.swap(spec.DefaultBackend)
	for i := range spec.Rules {
		if h := spec.Rules[i].HTTP; h != nil {
			for j := range h.Paths {
				h.Paths[j].Backend = *r.swap(&h.Paths[j].Backend)
			}
		}
	}
	want := &networkingv1.Ingress{}
	want.Namespace, want.Name = r.stable.Namespace, r.CanaryName()
	var have networkingv1.Ingress
	err = r.c.Get(ctx, client.ObjectKeyFromObject(want), &have)
	switch {
	case apierrors.IsNotFound(err):
		want.Annotations, want.Spec = ann, spec
		want.Labels = map[string]string{service.LabelRollout: r.ro.Name}
		if err := r.c.Create(ctx, want); err != nil {
			return fmt.Errorf("create Ingress %s/%s: %w", want.Namespace, want.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read Ingress %s/%s: %w", want.Namespace, want.Name, err)
	}
	for k := range have.Annotations {
		if _, ours := ann[k]; !ours && (strings.HasPrefix(k, AnnCanary+"-") || k == AnnHeaderRoutes) {
			delete(have.Annotations, k) // a header annotation no longer wanted
		}
	}
	if have.Annotations == nil {
		have.Annotations = map[string]string{}
	}
	for k, v := range ann {
		have.Annotations[k] = v
	}
	have.Spec = spec
	if err := r.c.Update(ctx, &have); err != nil {
		return fmt.Errorf("update Ingress %s/%s: %w", have.Namespace, have.Name, err)
	}
	return nil
}

// swap replaces the stable Service by the canary's in a backend.
func (r *Router) swap(b *networkingv1.IngressBackend) *networkingv1.IngressBackend {
	if b == nil || b.Service == nil || b.Service.Name != service.StableName(r.ro) {
		return b
	}
	out := b.DeepCopy()
	out.Service.Name = service.CanaryName(r.ro)
	return out
}

// annotations are the canary annotations for a weight and header routes.
func annotations(weight int32, headers []v1alpha1.SetHeaderRoute) (map[string]string, error) {
	ann := map[string]string{AnnCanary: "true", AnnWeight: strconv.Itoa(int(weight))}
	for _, h := range headers {
		for _, m := range h.Match {
			switch {
			case m.HeaderName != "" && ann[AnnByHeader] != "":
				return nil, fmt.Errorf("header route %s: ingress-nginx matches one header per canary, %s is already used", h.Name, ann[AnnByHeader])
			case m.HeaderName != "":
				ann[AnnByHeader] = m.HeaderName
				switch v := m.HeaderValue; {
				case v.Exact != "":
					ann[AnnByHeaderValue] = v.Exact
				case v.Prefix != "":
					ann[AnnByHeaderRegexp] = "^" + regexp.QuoteMeta(v.Prefix)
				default:
					ann[AnnByHeaderRegexp] = v.Regex
				}
			case ann[AnnByCookie] != "":
				return nil, fmt.Errorf("header route %s: ingress-nginx matches one cookie per canary, %s is already used", h.Name, ann[AnnByCookie])
			case m.CookieValue == nil || m.CookieValue.Exact != "always":
				return nil, fmt.Errorf("header route %s: ingress-nginx sends a cookie to the canary only when its value is \"always\" (cookieValue: {exact: always})", h.Name)
			default:
				ann[AnnByCookie] = m.CookieName
			}
		}
	}
	if len(headers) > 0 {
		b, _ := json.Marshal(headers)
		ann[AnnHeaderRoutes] = string(b)
	}
	return ann, nil
}

// ObservedWeights reads the canary Ingress's weight and header routes; no
// canary Ingress sends nothing to the canary. It never mirrors.
func (r *Router) ObservedWeights(ctx context.Context) (service.Canary, error) {
	var in networkingv1.Ingress
	err := r.c.Get(ctx, types.NamespacedName{Namespace: r.stable.Namespace, Name: r.CanaryName()}, &in)
	if apierrors.IsNotFound(err) {
		return service.Canary{}, nil
	} else if err != nil {
		return service.Canary{}, fmt.Errorf("read Ingress %s/%s: %w", r.stable.Namespace, r.CanaryName(), err)
	}
	if in.Annotations[AnnCanary] != "true" {
		return service.Canary{}, nil
	}
	w, _ := strconv.Atoi(in.Annotations[AnnWeight])
	var headers []v1alpha1.SetHeaderRoute
	if s := in.Annotations[AnnHeaderRoutes]; s != "" {
		_ = json.Unmarshal([]byte(s), &headers)
	}
	return service.Canary{Weight: int32(w), Headers: headers}, nil
}
