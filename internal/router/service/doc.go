// Package service owns the two Services of a Rollout in Kubernetes mode,
// <rollout>-stable and <rollout>-canary, which select the pods of one
// revision each (label fledge.dev/revision). The Kubernetes routers
// (gatewayapi, nginx) weigh traffic between them through Route and
// Observe, which keep the order safe: a Service changes revision only once
// it takes no traffic the engine did not decide.
//
// The package is also the "service" router: blue-green with no traffic
// router, switching the active Service's selector from one revision to the
// next at once.
package service
