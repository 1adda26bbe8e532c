package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
)

// spec is a user's file, read and checked.
type spec struct {
	data []byte
	// dir is the absolute directory relative commands resolve against: the
	// file's own, or the working directory for standard input.
	dir      string
	rollouts []*v1alpha1.Rollout
}

// readSpec reads file ("-": standard input) and loads it as the daemon
// will (decode, default, validate), so that a mistake is reported before
// anything starts or is sent, with every message at once.
func (o *Options) readSpec(file string) (*spec, error) {
	if file == "" {
		return nil, fmt.Errorf("no file: give one with -f FILE (or -f - for standard input)")
	}
	var (
		s   spec
		err error
	)
	if file == "-" {
		s.data, err = io.ReadAll(o.In)
		if err == nil {
			s.dir, err = os.Getwd()
		}
	} else {
		s.data, err = os.ReadFile(file)
		if err == nil {
			s.dir, err = filepath.Abs(filepath.Dir(file))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	s.rollouts, err = v1alpha1.Load(s.data)
	if err != nil {
		return nil, invalidSpec(file, err)
	}
	return &s, nil
}

// invalidSpec lists every mistake, one per line.
func invalidSpec(file string, err error) error {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, "  "+l)
		}
	}
	noun := "mistakes"
	if len(lines) == 1 {
		noun = "mistake"
	}
	if file == "-" {
		file = "standard input"
	}
	return fmt.Errorf("%s is invalid (%d %s), nothing was applied:\n%s", file, len(lines), noun, strings.Join(lines, "\n"))
}
