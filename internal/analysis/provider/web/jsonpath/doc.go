// Package jsonpath picks values out of decoded JSON with the subset of
// JSONPath that metric endpoints need: fields, array indexes and wildcards.
// It is small on purpose (the web provider's one use, and the spec
// validation that checks a path before a run starts), so Fledge needs no
// template engine to read a number out of a response.
//
// Accepted forms, with or without the surrounding braces Kubernetes and
// Argo Rollouts write ({$.data.value}):
//
//	$                  the whole document
//	$.a.b  .a.b  a.b   nested fields
//	$['a b']  $["a"]   a field whose name needs quoting
//	$.items[0]         an array element; [-1] is the last one
//	$.items[*].value   every element (or, on an object, every field value
//	                   in key order); .* is the same
//
// A path without a wildcard yields one value, and a missing field or index
// is an error that names where the path stopped. A path with a wildcard
// yields a list of whatever matched, possibly empty. Filters (?()),
// slices (a:b), unions (a,b) and recursive descent (..) are not supported
// and are refused by Parse.
package jsonpath
