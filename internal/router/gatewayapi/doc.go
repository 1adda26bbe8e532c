// Package gatewayapi is the Gateway API router: it sets the weights of the
// backendRefs to <rollout>-stable and <rollout>-canary in the user's
// HTTPRoute (gateway.networking.k8s.io/v1), adding the canary backendRef
// where only the stable one is written, and adds one rule per header route
// (named fledge-<route>) that sends matching requests to the canary. Each
// mirror route becomes a rule fledge-mirror-<route> in front of the user's:
// a copy of the first weighted rule, its matches narrowed to the route's
// (mirror.go), with a RequestMirror filter to the canary. It edits the
// HTTPRoute as unstructured data so that Fledge links no Gateway API
// module, and reads every change back (Observed) for the engine: the routes
// from annotations, kept when their rules are in place.
package gatewayapi
