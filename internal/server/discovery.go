package server

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Files of the state directory through which a client finds the daemon.
const (
	// TokenFile holds the API token: 32 random bytes, hex, mode 0600.
	TokenFile = "token"
	// InfoFile says where the running daemon listens; it exists only while
	// a daemon runs.
	InfoFile = "daemon.json"
)

// ErrNoDaemon says no daemon runs for a state directory.
var ErrNoDaemon = errors.New("no fledge daemon is running")

// Info is the content of daemon.json.
type Info struct {
	Address string `json:"address"`
	PID     int    `json:"pid"`
}

// EnsureToken returns the state directory's token, creating it (and the
// directory, 0700) on first use. Only the directory's owner can read it.
func EnsureToken(stateDir string) (string, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return "", fmt.Errorf("create state dir: %w", err)
	}
	path := filepath.Join(stateDir, TokenFile)
	if tok, err := readToken(path); err == nil {
		return tok, os.Chmod(path, 0o600)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := hex.EncodeToString(b)
	// O_EXCL: of two daemons starting at once, one writes the token and
	// the other reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readToken(path)
	}
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write token %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write token %s: %w", path, err)
	}
	return tok, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty: delete it and restart the daemon", path)
	}
	return tok, nil
}

// WriteInfo records where the daemon listens, atomically (a client never
// reads half a file).
func WriteInfo(stateDir string, info Info) error {
	b, _ := json.Marshal(info)
	tmp, err := os.CreateTemp(stateDir, InfoFile+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", InfoFile, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", InfoFile, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", InfoFile, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(stateDir, InfoFile)); err != nil {
		return fmt.Errorf("write %s: %w", InfoFile, err)
	}
	return nil
}

// RemoveInfo removes daemon.json if it still names the process pid.
func RemoveInfo(stateDir string, pid int) error {
	info, err := ReadInfo(stateDir)
	if err != nil || info.PID != pid {
		return nil
	}
	if err := os.Remove(filepath.Join(stateDir, InfoFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", InfoFile, err)
	}
	return nil
}

// ReadInfo reads daemon.json.
func ReadInfo(stateDir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(stateDir, InfoFile))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("read %s: %w", filepath.Join(stateDir, InfoFile), err)
	}
	return info, nil
}

// Discover returns a client of the daemon of a state directory, or an
// error wrapping ErrNoDaemon that tells how to start one.
func Discover(stateDir string) (*Client, error) {
	noDaemon := func(why string) error {
		return fmt.Errorf("%w for state dir %s%s: start one with `fledge serve` or `fledge run -f FILE`", ErrNoDaemon, stateDir, why)
	}
	info, err := ReadInfo(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noDaemon("")
	}
	if err != nil {
		return nil, err
	}
	if info.PID > 0 && !alive(info.PID) {
		return nil, noDaemon(fmt.Sprintf(" (daemon.json names pid %d, which has exited)", info.PID))
	}
	tok, err := readToken(filepath.Join(stateDir, TokenFile))
	if err != nil {
		return nil, err
	}
	return &Client{BaseURL: "http://" + info.Address, Token: tok}, nil
}

// alive tells whether a process exists (signal 0 checks without sending).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
