package verify

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDockerfileBuildsAStaticNonRootImage checks what the Dockerfile
// promises without a container engine (none runs on the CI machine, and its
// base images are out of reach): the final stage runs as a numeric non-root
// user that config/manager and the chart's runAsUser match, and the build
// stage's own `go build` line, run here as written, makes a static binary
// that starts on a base with no C library.
func TestDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fledge binary")
	}
	stages := dockerfileStages(t, filepath.Join(root, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile: want a build stage and a runtime stage, got %d stage(s)", len(stages))
	}
	final := stages[len(stages)-1]
	if !strings.Contains(final.from, "distroless/static") && final.from != "scratch" {
		t.Errorf("final stage FROM %s: want a base without a C library (distroless/static or scratch)", final.from)
	}
	user := final.directive("USER")
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Fatalf("final stage USER %q: want a numeric non-root uid, so that Kubernetes can check runAsNonRoot", user)
	}
	for _, f := range []string{"config/manager/manager.yaml", "charts/fledge/templates/deployment.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "runAsUser: "+uid) || !strings.Contains(string(b), "runAsNonRoot: true") {
			t.Errorf("%s: want runAsNonRoot: true and runAsUser: %s, the image's USER", f, uid)
		}
	}

	// The build stage's go build, with its output redirected here.
	var build string
	for _, run := range stages[0].all("RUN") {
		if strings.Contains(run, "go build") {
			build = run
		}
	}
	if !strings.Contains(build, "CGO_ENABLED=0") {
		t.Fatalf("build stage: want a `CGO_ENABLED=0 go build` RUN line, got %q", build)
	}
	out := filepath.Join(t.TempDir(), "fledge")
	build = strings.Replace(build, "/out/fledge", out, 1)
	// Without -trimpath, which only keeps paths out of the binary but would
	// compile every package again instead of using the test run's cache.
	build = strings.Replace(build, " -trimpath", "", 1)
	cmd := exec.Command("sh", "-c", build)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(goCommand(t))+":"+os.Getenv("PATH"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("%s is dynamically linked (%v): it would not start on %s", out, p.Type, final.from)
		}
	}
	if b, err := exec.Command(out, "controller", "--help").CombinedOutput(); err != nil || !strings.Contains(string(b), "--kubeconfig") {
		t.Fatalf("the built binary's `controller --help` (the image's command): %v\n%s", err, b)
	}
}

type stage struct {
	from string
	dirs [][2]string // instruction, arguments
}

func (s stage) all(instr string) []string {
	var out []string
	for _, d := range s.dirs {
		if d[0] == instr {
			out = append(out, d[1])
		}
	}
	return out
}

func (s stage) directive(instr string) string {
	all := s.all(instr)
	if len(all) == 0 {
		return ""
	}
	return all[len(all)-1]
}

// dockerfileStages reads a Dockerfile's stages: comments dropped, lines
// continued with a backslash joined.
func dockerfileStages(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages []stage
		line   string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(text, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(text, `\`); ok {
			line += cont + " "
			continue
		}
		line += text
		instr, args, _ := strings.Cut(strings.TrimSpace(line), " ")
		line = ""
		instr, args = strings.ToUpper(instr), strings.TrimSpace(args)
		switch {
		case instr == "":
		case instr == "FROM":
			image, _, _ := strings.Cut(args, " ")
			stages = append(stages, stage{from: image})
		case len(stages) == 0:
			t.Fatalf("%s: %s before any FROM", path, instr)
		default:
			stages[len(stages)-1].dirs = append(stages[len(stages)-1].dirs, [2]string{instr, args})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}
