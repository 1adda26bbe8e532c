package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"fledge.dev/fledge/api/v1alpha1"
	"fledge.dev/fledge/internal/controller"
	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// The cluster verbs (kube*.go) act on Rollouts in a Kubernetes cluster
// through its API server, as kubectl does: they read what the controller
// wrote (status, Events) and write what it reads (the command annotation,
// the workloadRef Deployment's pod template). They are the same commands
// under two names: `kubectl fledge VERB`, when kubectl runs this binary as
// its plugin kubectl-fledge, and `fledge kube VERB`.

// kubectlPlugin is the name kubectl looks for on PATH to run `kubectl fledge`.
const kubectlPlugin = "kubectl-fledge"

// IsKubectlPlugin tells whether argv0, the name the binary was run under,
// makes it kubectl's plugin (a copy or link named kubectl-fledge).
func IsKubectlPlugin(argv0 string) bool {
	return strings.TrimSuffix(filepath.Base(argv0), ".exe") == kubectlPlugin
}

// NewKubectlPlugin builds the command kubectl runs for `kubectl fledge`.
func NewKubectlPlugin(streams IOStreams) *cobra.Command {
	root := newKubeCmd(&Options{IOStreams: streams}, "fledge")
	// Help and usage name the command as the user types it.
	root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl fledge"}
	root.SilenceUsage, root.SilenceErrors = true, true
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	return root
}

func init() {
	register(func(o *Options) *cobra.Command { return newKubeCmd(o, "kube") })
}

// kubeOptions are the cluster verbs' flags, and the client they make.
type kubeOptions struct {
	*Options
	kubeconfig, context, namespace string

	kube client.Client
	// cfg is the connection kube uses.
	cfg *rest.Config
	// ns is the namespace the verbs act in: -n, else the context's, else default.
	ns string
}

// kubeCommands are the cluster verbs, registered by the kube*.go files.
var kubeCommands []func(*kubeOptions) *cobra.Command

func registerKube(f func(*kubeOptions) *cobra.Command) {
	kubeCommands = append(kubeCommands, f)
}

func newKubeCmd(o *Options, use string) *cobra.Command {
	k := &kubeOptions{Options: o}
	cmd := &cobra.Command{
		Use:   use,
		Short: "Drive Rollouts in a Kubernetes cluster (also `kubectl fledge`)",
		Long: "Drive the Rollouts of a Kubernetes cluster, which `fledge controller` runs: show\n" +
			"where they stand, send them commands, and start a release by changing the image of\n" +
			"their workloadRef Deployment. The cluster is found as kubectl finds it (--kubeconfig,\n" +
			"$KUBECONFIG, ~/.kube/config; --context, -n).\n\n" +
			"Installed on PATH as kubectl-fledge (a copy of, or a link to, this binary), the same\n" +
			"commands are `kubectl fledge VERB`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := cmd.PersistentFlags()
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&k.context, "context", "", "the kubeconfig context to use (default: its current context)")
	f.StringVarP(&k.namespace, "namespace", "n", "", "the namespace of the rollouts (default: the context's, else default)")
	for _, c := range kubeCommands {
		cmd.AddCommand(c(k))
	}
	return cmd
}

// connect finds the cluster as kubectl does and makes the client.
func (k *kubeOptions) connect() error {
	// controller-runtime's client logs through a global logger; unset, it
	// complains on standard error. A command's errors are returned instead.
	ctrllog.SetLogger(logr.Discard())
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	over := &clientcmd.ConfigOverrides{CurrentContext: k.context}
	over.Context.Namespace = k.namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, over)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return fmt.Errorf("find the cluster (--kubeconfig, $KUBECONFIG or ~/.kube/config): %w", err)
	}
	if k.ns, _, err = cc.Namespace(); err != nil {
		return fmt.Errorf("the namespace of the kubeconfig's context: %w", err)
	}
	k.cfg = cfg
	if k.kube, err = client.New(cfg, client.Options{Scheme: controller.Scheme()}); err != nil {
		return fmt.Errorf("connect to the cluster: %w", err)
	}
	return nil
}

// rollout reads a Rollout of the namespace, with an error that names it.
func (k *kubeOptions) rollout(ctx context.Context, name string) (*v1alpha1.Rollout, error) {
	var ro v1alpha1.Rollout
	err := k.kube.Get(ctx, types.NamespacedName{Namespace: k.ns, Name: name}, &ro)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%s%s not found in namespace %s", kindPrefix, name, k.ns)
	case meta.IsNoMatchError(err):
		return nil, fmt.Errorf("read %s%s: the cluster has no Rollout kind: install Fledge's CRDs (config/crd): %w", kindPrefix, name, err)
	case err != nil:
		return nil, fmt.Errorf("read %s%s in namespace %s: %w", kindPrefix, name, k.ns, err)
	}
	return &ro, nil
}

// run makes a cluster verb's RunE: connect, then f.
func (k *kubeOptions) run(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := k.connect(); err != nil {
			return err
		}
		return f(cmd, args)
	}
}
