// Package browsertest drives a real headless Chromium from Go tests, the
// way a user's browser would use Fledge's web dashboard: it finds the
// browser (failing the test when none is installed, as CI must install one
// with hack/install-test-deps.sh), opens one tab, runs actions, polls
// JavaScript conditions in the page until they hold, collects the page's
// script errors, and takes screenshots with a measure of how blank they are.
//
// It is test support: only _test files import it. The pages, servers and
// what to assert belong to the tests that use it (test/cluster drives the
// cluster-mode dashboard with it).
package browsertest
