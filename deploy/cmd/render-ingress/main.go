// Command render-ingress writes the cluster's edge from dev/ingress.Routes(),
// the route table the ingress stand-in of `make run` uses, so the cluster and
// a developer's machine route alike: gateway.yaml (the Gateway API Gateway,
// HTTPRoutes and Traefik Middlewares) and ingress.yaml (a plain Ingress).
// Run it from deploy/ (`make render` does):
//
//	go run ./cmd/render-ingress -dir ../k8s
//
// Without -dir it writes both files to standard output, gateway.yaml first.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/travluk/ecom/deploy/ingressyaml"
	"github.com/travluk/ecom/dev/ingress"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "render-ingress:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("render-ingress", flag.ContinueOnError)
	dir := flags.String("dir", "", "write gateway.yaml and ingress.yaml into this directory instead of standard output")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flags.Args())
	}
	routes := ingress.Routes()
	gateway, err := ingressyaml.RenderGateway(routes)
	if err != nil {
		return err
	}
	plain, err := ingressyaml.RenderIngress(routes)
	if err != nil {
		return err
	}
	if *dir == "" {
		_, err = fmt.Fprintf(stdout, "%s---\n%s", gateway, plain)
		return err
	}
	for name, data := range map[string][]byte{"gateway.yaml": gateway, "ingress.yaml": plain} {
		if err := os.WriteFile(filepath.Join(*dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
