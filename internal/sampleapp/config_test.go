package sampleapp

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseErrorRates(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Routes[float64]
		wantErr string
	}{
		"empty":            {in: "", want: Routes[float64]{}},
		"two routes":       {in: "POST /login=0.2,GET /=0.01", want: Routes[float64]{"POST /login": 0.2, "GET /": 0.01}},
		"spaces and case":  {in: " post   /login = 1 , ", want: Routes[float64]{"POST /login": 1}},
		"any route":        {in: "*=0.5", want: Routes[float64]{"*": 0.5}},
		"path with equals": {in: "GET /a=b=0.3", want: Routes[float64]{"GET /a=b": 0.3}},
		"above one":        {in: "GET /=1.5", wantErr: `route "GET /": want a probability between 0 and 1, got "1.5"`},
		"negative":         {in: "GET /=-0.1", wantErr: `got "-0.1"`},
		"not a number":     {in: "GET /=often", wantErr: `got "often"`},
		"no value":         {in: "GET /", wantErr: `route "GET /": want ROUTE=VALUE`},
		"no method":        {in: "/login=0.1", wantErr: `route "/login": want "METHOD /path" or "*"`},
		"no slash":         {in: "GET login=0.1", wantErr: `want "METHOD /path"`},
		"odd method":       {in: "G3T /=0.1", wantErr: `method "G3T" is not a word`},
		"twice":            {in: "GET /=0.1,get /=0.2", wantErr: `route "GET /": given twice`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseErrorRates(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseErrorRates(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseErrorRates(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestParseLatency(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    Routes[time.Duration]
		wantErr string
	}{
		"two routes": {in: "GET /=5ms,POST /login=20ms", want: Routes[time.Duration]{"GET /": 5 * time.Millisecond, "POST /login": 20 * time.Millisecond}},
		"no unit":    {in: "GET /=5", wantErr: `want a duration such as 5ms, got "5"`},
		"negative":   {in: "GET /=-5ms", wantErr: `got "-5ms"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseLatency(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseLatency(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseLatency(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestRoutesFor(t *testing.T) {
	rs := Routes[float64]{"POST /login": 0.2, "*": 0.01}
	tests := map[string]struct {
		routes       Routes[float64]
		method, path string
		want         float64
	}{
		"listed":          {routes: rs, method: "POST", path: "/login", want: 0.2},
		"other method":    {routes: rs, method: "GET", path: "/login", want: 0.01},
		"unlisted":        {routes: rs, method: "GET", path: "/", want: 0.01},
		"no any":          {routes: Routes[float64]{"GET /": 0.5}, method: "GET", path: "/x", want: 0},
		"nil":             {method: "GET", path: "/", want: 0},
		"exact path only": {routes: Routes[float64]{"GET /": 0.5}, method: "GET", path: "/login", want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.routes.For(tc.method, tc.path); got != tc.want {
				t.Fatalf("For(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
			}
		})
	}
}

func TestParseArgsAndEnv(t *testing.T) {
	tests := map[string]struct {
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		"defaults": {check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:8080" || c.Version != "" || len(c.ErrorRates) != 0 || c.FailHealthAfter != 0 {
				t.Errorf("config = %+v, want listen 127.0.0.1:8080 and nothing else", c)
			}
		}},
		"PORT and GREETING": {env: map[string]string{"PORT": "9123", "GREETING": "hi"}, check: func(t *testing.T, c Config) {
			if c.Listen != "127.0.0.1:9123" || c.Greeting != "hi" {
				t.Errorf("listen, greeting = %q, %q; want 127.0.0.1:9123, hi", c.Listen, c.Greeting)
			}
		}},
		"flags": {
			args: []string{"--version", "v2", "--error-rate", "POST /login=0.2", "--latency", "GET /=5ms",
				"--fail-health-after", "30s", "--startup-delay", "2s", "--crash-after", "1m", "--shutdown-timeout", "5s", "--listen", "127.0.0.1:0"},
			env: map[string]string{"PORT": "9123"},
			check: func(t *testing.T, c Config) {
				want := Config{Listen: "127.0.0.1:0", Version: "v2", ErrorRates: Routes[float64]{"POST /login": 0.2},
					Latency: Routes[time.Duration]{"GET /": 5 * time.Millisecond}, FailHealthAfter: 30 * time.Second,
					StartupDelay: 2 * time.Second, CrashAfter: time.Minute, ShutdownTimeout: 5 * time.Second}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("config = %+v\nwant %+v", c, want)
				}
			}},
		"env": {
			env: map[string]string{"FLEDGE_SAMPLE_VERSION": "v3", "FLEDGE_SAMPLE_ERROR_RATE": "GET /=0.5",
				"FLEDGE_SAMPLE_LATENCY": "*=1ms", "FLEDGE_SAMPLE_FAIL_HEALTH_AFTER": "10s", "FLEDGE_SAMPLE_STARTUP_DELAY": "1s",
				"FLEDGE_SAMPLE_CRASH_AFTER": "2m", "FLEDGE_SAMPLE_SHUTDOWN_TIMEOUT": "3s"},
			check: func(t *testing.T, c Config) {
				want := Config{Listen: "127.0.0.1:8080", Version: "v3", ErrorRates: Routes[float64]{"GET /": 0.5},
					Latency: Routes[time.Duration]{"*": time.Millisecond}, FailHealthAfter: 10 * time.Second,
					StartupDelay: time.Second, CrashAfter: 2 * time.Minute, ShutdownTimeout: 3 * time.Second}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("config = %+v\nwant %+v", c, want)
				}
			}},
		"flag beats env": {args: []string{"-version=v4"}, env: map[string]string{"FLEDGE_SAMPLE_VERSION": "v3"},
			check: func(t *testing.T, c Config) {
				if c.Version != "v4" {
					t.Errorf("version = %q, want the flag's v4", c.Version)
				}
			}},
		"bad env names the variable": {env: map[string]string{"FLEDGE_SAMPLE_ERROR_RATE": "GET /=2"},
			wantErr: `--error-rate (or $FLEDGE_SAMPLE_ERROR_RATE): route "GET /": want a probability`},
		"bad duration": {args: []string{"--fail-health-after", "soon"}, wantErr: `--fail-health-after (or $FLEDGE_SAMPLE_FAIL_HEALTH_AFTER): want a duration such as 30s, got "soon"`},
		"unknown flag": {args: []string{"--colour", "red"}, wantErr: "flag provided but not defined: -colour"},
		"positional":   {args: []string{"serve"}, wantErr: `unexpected arguments ["serve"]`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			c, err := parse(tc.args, getenv, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parse error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestParseHelp(t *testing.T) {
	var out strings.Builder
	_, err := parse([]string{"--help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parse(--help) error = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: fledge sample-app", "-error-rate", "FLEDGE_SAMPLE_ERROR_RATE", "GET /slow?ms=N"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}
