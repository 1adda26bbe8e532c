// Package service owns the two Services of a Rollout in Kubernetes mode,
// <rollout>-stable and <rollout>-canary, which select the pods of one
// revision each (label fledge.dev/revision). The Kubernetes routers
// (gatewayapi, istio, nginx) weigh traffic between them through Route and
// Observe, which keep the order safe: a Service changes revision only once
// it takes no traffic (and no copy of it) the engine did not decide.
// routes.go holds what they share for mirror routes: the annotation they
// are read back from and the narrowing of a user's match to a mirror's.
//
// The package is also the "service" router: blue-green with no traffic
// router, switching the active Service's selector from one revision to the
// next at once.
package service
