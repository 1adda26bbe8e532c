package v1alpha1

// ProcessTemplate describes one replica of a version in local mode: a process.
// Each replica is given a free loopback port in the PORT environment variable.
type ProcessTemplate struct {
	// Command is the program and its arguments. Relative programs are looked
	// up from workingDir, then PATH.
	// +kubebuilder:validation:MinItems=1
	Command []string `json:"command"`
	// Env adds environment variables to the process (PORT is always set).
	Env []EnvVar `json:"env,omitempty"`
	// WorkingDir is the process's working directory; default: the directory
	// of the spec file.
	WorkingDir string `json:"workingDir,omitempty"`

	// ReadinessProbe decides whether the replica receives traffic.
	ReadinessProbe *Probe `json:"readinessProbe,omitempty"`
	// LivenessProbe restarts the replica when it fails.
	LivenessProbe *Probe `json:"livenessProbe,omitempty"`
	// StartupProbe holds the other probes back until it succeeds once; when it
	// fails failureThreshold times the replica is restarted.
	StartupProbe *Probe `json:"startupProbe,omitempty"`
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Probe checks a replica, with the meaning Kubernetes gives its fields.
// +kubebuilder:validation:XValidation:rule="(has(self.httpGet) ? 1 : 0) + (has(self.tcpSocket) ? 1 : 0) + (has(self.exec) ? 1 : 0) == 1",message="must set exactly one of httpGet, tcpSocket or exec"
type Probe struct {
	// Exactly one handler is set.
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	Exec      *ExecAction      `json:"exec,omitempty"`

	// InitialDelaySeconds waits this long after start before the first probe. Default 0.
	// +kubebuilder:validation:Minimum=0
	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty"`
	// TimeoutSeconds bounds one probe. Default 1.
	// +kubebuilder:validation:Minimum=0
	TimeoutSeconds int32 `json:"timeoutSeconds,omitempty"`
	// PeriodSeconds is how often to probe. Default 10.
	// +kubebuilder:validation:Minimum=0
	PeriodSeconds int32 `json:"periodSeconds,omitempty"`
	// SuccessThreshold is how many consecutive successes count as success
	// after a failure. Default 1 (must be 1 for liveness and startup).
	// +kubebuilder:validation:Minimum=0
	SuccessThreshold int32 `json:"successThreshold,omitempty"`
	// FailureThreshold is how many consecutive failures count as failure. Default 3.
	// +kubebuilder:validation:Minimum=0
	FailureThreshold int32 `json:"failureThreshold,omitempty"`
}

// HTTPGetAction probes with an HTTP GET; a status in [200, 400) is success.
type HTTPGetAction struct {
	Path string `json:"path,omitempty"`
	// Port defaults to the replica's PORT.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
	// Host defaults to 127.0.0.1.
	Host string `json:"host,omitempty"`
	// Scheme is HTTP (default) or HTTPS.
	// +kubebuilder:validation:Enum=HTTP;HTTPS
	Scheme      string       `json:"scheme,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader is a header sent by an HTTP probe.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction probes by opening a TCP connection.
type TCPSocketAction struct {
	// Port defaults to the replica's PORT.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`
	// Host defaults to 127.0.0.1.
	Host string `json:"host,omitempty"`
}

// ExecAction probes by running a command; exit status 0 is success.
type ExecAction struct {
	// Command is the program and its arguments.
	// +kubebuilder:validation:MinItems=1
	Command []string `json:"command"`
}
