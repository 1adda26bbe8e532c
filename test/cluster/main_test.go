package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"fledge.dev/fledge/internal/controller"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"
)

var (
	kubeconfig string
	binary     string
	kube       client.Client
	root       string
)

func TestMain(m *testing.M) {
	if os.Getenv("FLEDGE_SKIP_CLUSTER") == "1" {
		fmt.Println("FLEDGE_SKIP_CLUSTER=1: skipping the cluster tests")
		os.Exit(0)
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	_, file, _, _ := runtime.Caller(0)
	root = filepath.Join(filepath.Dir(file), "..", "..")
	kubeconfig = os.Getenv("FLEDGE_KUBECONFIG")
	if kubeconfig == "" {
		up := exec.Command("make", "cluster-up")
		up.Dir, up.Stdout, up.Stderr = root, os.Stderr, os.Stderr
		if err := up.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "make cluster-up:", err)
			return 1
		}
		kubeconfig = filepath.Join(root, ".cluster", "kubeconfig")
	}
	dir, err := os.MkdirTemp("", "fledge-cluster-test")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "fledge")
	build := exec.Command("go", "build", "-o", binary, "./cmd/fledge")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fledge:", err)
		return 1
	}
	ctrllog.SetLogger(logr.Discard())
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		panic(err)
	}
	if kube, err = client.New(cfg, client.Options{Scheme: controller.Scheme()}); err != nil {
		panic(err)
	}
	return m.Run()
}

// proc is a running `fledge controller`.
type proc struct {
	cmd   *exec.Cmd
	probe string
	log   string
}

// startController runs the controller and waits until it is healthy.
func startController(t *testing.T) *proc { return startControllerWith(t, kubeconfig, "default") }

// startControllerWith runs the controller with a kubeconfig, electing its
// leader in leaseNS.
func startControllerWith(t *testing.T, kubeconfig, leaseNS string) *proc {
	t.Helper()
	probe := freeAddr(t)
	logf, err := os.CreateTemp(t.TempDir(), "controller-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "controller", "--kubeconfig", kubeconfig, "--metrics-bind-address", "0",
		"--health-probe-bind-address", probe, "--leader-election-id", "fledge-test", "--leader-election-namespace", leaseNS)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, probe: probe, log: logf.Name()}
	t.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("controller log:\n%s", tail(string(b), 60))
		}
	})
	return p
}

// stop ends the controller with sig and waits for it.
func (p *proc) stop(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	_ = p.cmd.Wait()
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// namespace creates a namespace for one test, deleted after it.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fledge-test-"}}
	if err := kube.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.Delete(context.Background(), ns) })
	return ns.Name
}

// applyDir creates every object of the YAML files of dir in ns.
func applyDir(t *testing.T, ns, dir string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no YAML in %s", dir)
	}
	for _, f := range files {
		applyFile(t, ns, f)
	}
}

// applyFile creates every object of a YAML file in ns.
func applyFile(t *testing.T, ns, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---") {
		applyYAML(t, ns, doc)
	}
}

// applyYAML creates one object written in YAML in ns.
func applyYAML(t *testing.T, ns, doc string) {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	if len(obj) == 0 {
		return
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetNamespace(ns)
	if err := kube.Create(context.Background(), u); err != nil {
		t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// eventually polls cond until it holds or the deadline passes; what
// describes the state last seen, for the failure message.
func eventually(t *testing.T, within time.Duration, desc string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last seen: %s", desc, within, last)
}
