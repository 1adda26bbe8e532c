package v1alpha1

import (
	"regexp"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// envName is the Kubernetes rule for environment variable names, which
// every shell and exec accepts.
var envName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// processTemplate checks the local-mode version: what each replica runs.
func (v *validator) processTemplate(p path, t *ProcessTemplate) {
	if len(t.Command) == 0 {
		v.addf(p.field("command"), "required: the program to run and its arguments")
	} else if t.Command[0] == "" {
		v.addf(p.field("command").index(0), "must name the program to run, got \"\"")
	}
	for i, arg := range t.Command {
		// exec rejects NUL; say so before a replica fails to start.
		if strings.ContainsRune(arg, 0) {
			v.addf(p.field("command").index(i), "must not contain a NUL character")
		}
	}
	v.env(p.field("env"), t.Env)
	v.probe(p.field("readinessProbe"), t.ReadinessProbe, "")
	v.probe(p.field("livenessProbe"), t.LivenessProbe, "liveness")
	v.probe(p.field("startupProbe"), t.StartupProbe, "startup")
}

func (v *validator) env(p path, env []EnvVar) {
	seen := map[string]int{}
	for i, e := range env {
		ep := p.index(i)
		switch {
		case e.Name == "":
			v.addf(ep.field("name"), "required")
		case e.Name == "PORT":
			v.addf(ep.field("name"), "PORT is reserved: Fledge sets it to each replica's port")
		case !envName.MatchString(e.Name):
			v.addf(ep.field("name"), "must be letters, digits, '_', '-' or '.', not starting with a digit, got %q", e.Name)
		default:
			if j, dup := seen[e.Name]; dup {
				v.addf(ep.field("name"), "duplicate %q (also env[%d])", e.Name, j)
			} else {
				seen[e.Name] = i
			}
		}
		if strings.ContainsRune(e.Value, 0) {
			v.addf(ep.field("value"), "must not contain a NUL character")
		}
	}
}

// probe checks a probe as Kubernetes does; kind is "liveness" or "startup"
// for the probes whose success threshold must be 1 (one success is enough
// to stop a restart or end a startup).
func (v *validator) probe(p path, pr *Probe, kind string) {
	if pr == nil {
		return
	}
	names := []string{"httpGet", "tcpSocket", "exec"}
	if v.exactlyOne(p, names, []bool{pr.HTTPGet != nil, pr.TCPSocket != nil, pr.Exec != nil}) {
		switch {
		case pr.HTTPGet != nil:
			v.httpGet(p.field("httpGet"), pr.HTTPGet)
		case pr.TCPSocket != nil:
			v.port(p.field("tcpSocket").field("port"), pr.TCPSocket.Port)
			v.probeHost(p.field("tcpSocket").field("host"), pr.TCPSocket.Host)
		default:
			if len(pr.Exec.Command) == 0 || pr.Exec.Command[0] == "" {
				v.addf(p.field("exec").field("command"), "required: the program to run and its arguments")
			}
		}
	}
	v.nonNegative(p.field("initialDelaySeconds"), int64(pr.InitialDelaySeconds))
	v.positive(p.field("timeoutSeconds"), pr.TimeoutSeconds)
	v.positive(p.field("periodSeconds"), pr.PeriodSeconds)
	v.positive(p.field("successThreshold"), pr.SuccessThreshold)
	v.positive(p.field("failureThreshold"), pr.FailureThreshold)
	if kind != "" && pr.SuccessThreshold > 1 {
		v.addf(p.field("successThreshold"), "must be 1 for a %s probe, got %d", kind, pr.SuccessThreshold)
	}
}

// positive checks a probe number; 0 is "unset" before Default, so Validate
// sees it only when Default was skipped, and it is wrong then too.
func (v *validator) positive(p path, n int32) {
	if n < 1 {
		v.addf(p, "must be at least 1, got %d", n)
	}
}

func (v *validator) httpGet(p path, h *HTTPGetAction) {
	if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
		v.addf(p.field("path"), "must start with '/', got %q", h.Path)
	}
	v.port(p.field("port"), h.Port)
	v.probeHost(p.field("host"), h.Host)
	if h.Scheme != "" && h.Scheme != "HTTP" && h.Scheme != "HTTPS" {
		v.addf(p.field("scheme"), "must be HTTP or HTTPS, got %q", h.Scheme)
	}
	for i, hd := range h.HTTPHeaders {
		hp := p.field("httpHeaders").index(i)
		if v.required(hp.field("name"), hd.Name) {
			v.headerName(hp.field("name"), hd.Name)
		}
		if !httpguts.ValidHeaderFieldValue(hd.Value) {
			v.addf(hp.field("value"), "must be a valid HTTP header value (no control characters), got %q", hd.Value)
		}
	}
}

// port checks a probe port; 0 means the replica's PORT.
func (v *validator) port(p path, n int32) {
	if n != 0 {
		v.between(p, int64(n), 1, 65535)
	}
}

func (v *validator) probeHost(p path, h string) {
	if h != "" && !validHost(h) {
		v.addf(p, "must be an IP address or a host name, without scheme or port, got %q", h)
	}
}
