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
// Two request paths share the routing above. Plain HTTP/1.1 requests on the
// main address take the fast path (fast.go, fastserve.go, h1.go, h1resp.go,
// upstream.go): the head is parsed in place, the request forwarded byte for
// byte on the client's goroutine over a pooled replica connection, the
// response's framing passed through; no allocation per request. Anything
// else — HTTP/1.0, h2c, WebSocket and other upgrades, Expect, chunked
// request bodies, heads over 8 KiB, unusual syntax, and every request while
// mirror routes are set — is handed with its connection, before a byte of it
// is consumed, to net/http and httputil.ReverseProxy (serve.go), which serve
// that connection from then on, and judge every malformed request. The
// preview address is served by net/http alone. Why and what it measured:
// docs/design/2026-12-02-proxy-fast-path.md.
//
// The request path takes no lock (but the fast path's short one on a
// replica's idle-connection list): it reads one immutable routing table
// through an atomic pointer, and every change (SetTraffic, SetEndpoints,
// Drain, Configure) builds and publishes a new table.
package proxy
