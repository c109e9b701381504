// Command render-ingress writes k8s/ingress.yaml from dev/ingress.Routes(),
// the route table the ingress stand-in of `make run` uses, so the cluster and
// a developer's machine route alike. Run it from deploy/:
//
//	go run ./cmd/render-ingress -o ../k8s/ingress.yaml
//
// Without -o it writes to standard output.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

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
	out := flags.String("o", "", "write to this file instead of standard output")
	if err := flags.Parse(args); err != nil {
		return err
	}
	data, err := ingressyaml.Render(ingress.Routes())
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(data)
		return err
	}
	return os.WriteFile(*out, data, 0o644)
}
