// Package web is the "web" metric provider: an HTTP GET, POST or PUT to an
// endpoint that answers JSON, with the value picked out by a JSONPath
// (package jsonpath, a small subset: fields, indexes, wildcards). It
// registers itself on import and needs nothing from the host
// (provider.Deps): each metric names its URL, headers and TLS setting.
//
// The picked value is what conditions see as `result`: a number (as
// float64), a string, a boolean, an object (a map) or, for a path with a
// wildcard, a list. What cannot be judged is never a success:
//
//   - an answer that is not 2xx, that is not JSON, or a path that does not
//     exist in it, is an error (the measurement is Error);
//   - a path that selects null, or a wildcard that selects nothing, has no
//     data (the measurement is Inconclusive);
//   - no answer within timeoutSeconds (or the measurement's own limit, when
//     shorter) is an error.
//
// Messages name the URL without its query string, which may hold secrets.
package web
