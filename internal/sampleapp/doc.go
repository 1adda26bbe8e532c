// Package sampleapp is the small HTTP service that Fledge's demo, its tests
// and people trying Fledge release: `fledge sample-app --version v2`.
//
// It is a stand-in for a real service whose faults can be dialled in from
// the command line or the environment (so a Rollout template's env can
// configure it): a per-route error rate, added latency, a health check that
// goes bad after a while, a slow start and a crash. Each response names the
// version that served it (the X-Version header and the body), so a canary's
// share of traffic can be seen from the outside.
//
// It behaves like a well-mannered replica under a process supervisor: it
// listens on 127.0.0.1:$PORT, answers its probes, and on SIGTERM stops
// accepting, finishes the requests in flight and exits 0.
package sampleapp
