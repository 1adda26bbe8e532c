// Package proxy is Fledge's embedded reverse proxy: the router of local mode.
// It enforces the traffic split the rollout engine decides (rollout.Traffic)
// between the ready replicas of the stable and the canary revision, and
// records every request in the metrics registry that analysis reads.
//
// Place in the flow: the runner gathers Observed() into the engine's Input,
// applies the Decision's traffic with SetTraffic and feeds the ready replica
// addresses of each revision with SetEndpoints; before it stops a replica it
// calls Drain. The proxy registers itself as router "proxy".
//
// How a request on the main address is routed (per request, never per
// connection, so keep-alive cannot skew a split):
//  1. a header route that matches sends it to the canary;
//  2. with stickiness, the user's position p in [0,1) (a hash of the
//     identifying header, or carried in the proxy's cookie) sends it to the
//     canary iff p < weight/100, so a weight change moves only the users
//     between the old and the new weight;
//  3. otherwise an atomic counter gives the canary exactly weight% of any run
//     of requests (floor or ceil of N·w/100);
//  4. a canary without a ready replica never fails a user: the request goes
//     to stable; a stable without one is answered 503.
//
// Within a revision the replica with the fewest requests in flight is chosen,
// round-robin among equals. A canary request that fails (connection error, or
// a 5xx for a method listed in canaryFailover.methods) is replayed once on
// stable; the user sees stable's answer, the metrics see a canary failure.
// Mirror routes copy matching requests to the canary in the background.
//
// Metrics: every attempt that reaches a replica is observed under
// Key{Rollout, Revision, Route: "METHOD /path"} — failed is a 5xx or a
// connection error, latency is the upstream's time to response headers.
// Canary attempts hidden by a failover and mirror copies are recorded too
// (they are canary evidence). What users actually got as errors is counted
// apart, in Stats().UserErrors (and UserErrors()), so that it never mixes with
// the series analysis sums.
//
// The request path takes no lock: it reads one immutable routing table
// through an atomic pointer, and every change (SetTraffic, SetEndpoints,
// Drain, Configure) builds and publishes a new table.
package proxy
