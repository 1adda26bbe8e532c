// Package cluster is the dashboard's second data source: the Rollouts of a
// Kubernetes namespace, as `fledge dashboard --kubeconfig` shows them.
//
// It implements dashboard.Control over the API server, the way the
// controller (internal/controller) sees the same objects: the Rollouts,
// their AnalysisRuns and the Events recorded for them are read from a
// controller-runtime cache, whose watches also feed the live pages
// (dashboard.Watcher); a button's command is the fledge.dev/command
// annotation that the controller applies at its next reconcile and then
// removes, with fledge.dev/command-by naming the dashboard and the user
// its credentials are; the Events that command caused carry that name
// back (controller.EventActor), which the page shows as their actor.
// Undo has no annotation: the controller cannot do it, so the source says
// so (dashboard.Limited) and the page disables the button.
// Nothing counts the users' requests here, so the page has no charts.
package cluster
