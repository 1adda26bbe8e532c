// Package istio is the Istio router: it sets the weights of the
// destinations <rollout>-stable and <rollout>-canary in the named HTTP
// routes of a VirtualService (networking.istio.io/v1), adding the canary
// destination where only the stable one is written, and puts one HTTP route
// per header route (named fledge-<route>) in front, sending matching
// requests to the canary, then one per mirror route (fledge-mirror-<route>):
// a copy of the first weighted route, its matches narrowed to the route's
// (mirror.go), with mirror and mirrorPercentage toward the canary. The
// VirtualService is edited as unstructured data so that Fledge links no
// Istio module.
package istio
