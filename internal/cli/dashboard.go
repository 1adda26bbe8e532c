package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"fledge.dev/fledge/internal/dashboard"
	"fledge.dev/fledge/internal/server"
	"github.com/spf13/cobra"
)

func init() { register(newDashboardCmd) }

func newDashboardCmd(o *Options) *cobra.Command {
	var urlOnly, open bool
	var cf clusterFlags
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Show the web dashboard's address, with a one-time login link",
		Long: "The daemon serves a web dashboard on its API address, behind the API's token.\n" +
			"This prints its address and a login link for a browser on this machine: the link\n" +
			"works once, within two minutes, and leaves the browser logged in. --url prints\n" +
			"only the link; --open opens it in the browser ($BROWSER, else xdg-open).\n\n" +
			"With --kubeconfig it serves the dashboard itself, in the foreground, over the Rollouts\n" +
			"of a cluster's namespace (-n, default the context's): status, steps, traffic and\n" +
			"AnalysisRuns from the objects, live through watches; the buttons annotate the Rollout\n" +
			"with fledge.dev/command for the controller. It logs in with the same token (the state\n" +
			"directory's) and prints a one-time link; there are no per-version charts.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cf.kubeconfig != "" {
				return o.serveCluster(cmd.Context(), cf, urlOnly, open)
			}
			if cmd.Flags().Changed("namespace") || cmd.Flags().Changed("context") || cmd.Flags().Changed("listen") {
				return fmt.Errorf("--namespace, --context and --listen need --kubeconfig (cluster mode); the local dashboard is served by the daemon")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			link, err := loginLink(cmd.Context(), c)
			if err != nil {
				return err
			}
			if urlOnly {
				fmt.Fprintln(o.Out, link.URL)
				return nil
			}
			fmt.Fprintf(o.Out, "Dashboard: %s/dashboard/\n", strings.TrimSuffix(c.BaseURL, "/"))
			fmt.Fprintf(o.Out, "Log in with (one use, until %s): %s\n", link.Expires.Local().Format(time.TimeOnly), link.URL)
			if open {
				return openBrowser(link.URL)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&urlOnly, "url", false, "print only the one-time login URL")
	cmd.Flags().BoolVar(&open, "open", false, "open the login URL in the browser")
	cmd.Flags().StringVar(&cf.kubeconfig, "kubeconfig", "", "cluster mode: serve the dashboard over this cluster's Rollouts")
	cmd.Flags().StringVarP(&cf.namespace, "namespace", "n", "", "cluster mode: the namespace (default: the context's, else default)")
	cmd.Flags().StringVar(&cf.context, "context", "", "cluster mode: the kubeconfig context (default: its current one)")
	cmd.Flags().StringVar(&cf.listen, "listen", "127.0.0.1:0", "cluster mode: the dashboard's address (default: a free loopback port)")
	return cmd
}

// loginLink asks the daemon, with the API token, for a one-time login link.
func loginLink(ctx context.Context, c *server.Client) (*dashboard.LoginLink, error) {
	url := strings.TrimSuffix(c.BaseURL, "/") + "/dashboard/api/login-links"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the fledge daemon at %s (has it stopped? `fledge serve` starts one): %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("dashboard login link: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("the daemon at %s serves no dashboard (is it an older fledge?)", c.BaseURL)
	case resp.StatusCode != http.StatusOK:
		var e server.ErrorBody
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return nil, fmt.Errorf("dashboard login link: %s: %s", resp.Status, e.Error)
	}
	var link dashboard.LoginLink
	if err := json.Unmarshal(body, &link); err != nil || link.URL == "" {
		return nil, fmt.Errorf("dashboard login link: unexpected answer %q", body)
	}
	return &link, nil
}

// openBrowser opens url with $BROWSER, else xdg-open, without waiting.
func openBrowser(url string) error {
	prog := os.Getenv("BROWSER")
	if prog == "" {
		prog = "xdg-open"
	}
	path, err := exec.LookPath(prog)
	if err != nil {
		return fmt.Errorf("cannot open a browser (%s not found): open the link above yourself", prog)
	}
	cmd := exec.Command(path, url)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("open %s: %w", prog, err)
	}
	go cmd.Wait() // reap it; the browser lives on
	return nil
}
