// Command app is the replica the process tests run: a small HTTP server
// whose health, readiness, start and stop can be made to misbehave.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	listenDelay := flag.Duration("listen-delay", 0, "wait this long before listening (slow start)")
	healthyAfter := flag.Duration("healthy-after", 0, "/healthz fails until this long after start")
	failHealthAfter := flag.Duration("fail-health-after", 0, "/healthz fails from this long after start (0: never)")
	exitAfter := flag.Duration("exit-after", 0, "exit with -exit-code this long after start (0: never)")
	exitCode := flag.Int("exit-code", 3, "exit code of -exit-after")
	ignoreTerm := flag.Bool("ignore-sigterm", false, "log SIGTERM and carry on")
	child := flag.Bool("child", false, "start a child process (sleep) in the same process group")
	flag.Parse()
	start := time.Now()
	fmt.Printf("app pid %d port %s starting\n", os.Getpid(), os.Getenv("PORT"))

	var childPID int
	if *child {
		c := exec.Command("sleep", "1000")
		if err := c.Start(); err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		childPID = c.Process.Pid
	}
	if *exitAfter > 0 {
		time.AfterFunc(*exitAfter, func() { fmt.Println("exiting as told"); os.Exit(*exitCode) })
	}

	var ready, unhealthy atomic.Bool
	var readyHitsEarly atomic.Int64
	ready.Store(true)
	healthy := func() bool {
		up := time.Since(start)
		return !unhealthy.Load() && up >= *healthyAfter && (*failHealthAfter == 0 || up < *failHealthAfter)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy() {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < *healthyAfter {
			readyHitsEarly.Add(1)
		}
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.1:1/elsewhere", http.StatusFound)
	})
	mux.HandleFunc("GET /header", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Probe") != "yes" || r.Host != "probe.example" {
			http.Error(w, "missing header", http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /control/{what}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("what") {
		case "ready":
			ready.Store(true)
		case "unready":
			ready.Store(false)
		case "healthy":
			unhealthy.Store(false)
		case "unhealthy":
			unhealthy.Store(true)
		default:
			http.NotFound(w, r)
		}
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("d"))
		fmt.Println("slow request started")
		time.Sleep(d)
		fmt.Fprintln(w, "slow done")
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"PORT": os.Getenv("PORT"), "FLEDGE_ROLLOUT": os.Getenv("FLEDGE_ROLLOUT"),
			"FLEDGE_REVISION": os.Getenv("FLEDGE_REVISION"), "FLEDGE_REPLICA": os.Getenv("FLEDGE_REPLICA"),
			"GREETING": os.Getenv("GREETING"), "pid": os.Getpid(), "childPID": childPID,
			"readyHitsEarly": readyHitsEarly.Load(),
		})
	})
	srv := &http.Server{Handler: mux}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	go func() {
		for range sigs {
			if *ignoreTerm {
				fmt.Println("SIGTERM ignored")
				continue
			}
			fmt.Println("SIGTERM received, shutting down")
			srv.Shutdown(context.Background())
			fmt.Println("shut down")
			os.Exit(0)
		}
	}()

	time.Sleep(*listenDelay)
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	if err := srv.Serve(l); err != http.ErrServerClosed {
		fmt.Println("serve:", err)
		os.Exit(1)
	}
	select {} // Shutdown runs in the signal goroutine, which exits
}
