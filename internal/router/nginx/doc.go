// Package nginx is the ingress-nginx router. Beside the user's Ingress,
// whose backend is <rollout>-stable, it keeps a canary Ingress
// <ingress>-canary: the same rules with <rollout>-canary as backend and
// ingress-nginx's canary annotations (canary, canary-weight,
// canary-by-header, canary-by-header-value or -pattern, canary-by-cookie).
// ingress-nginx allows one header and one cookie per canary Ingress, so a
// header route may hold at most one of each; a cookie route sends the
// cookie's value "always" to the canary, as ingress-nginx defines it.
// Mirror routes are refused (validation says why): ingress-nginx reads
// mirror-target only on the main Ingress, with no percentage and no match.
package nginx
