// Command coredns is CoreDNS with only the plugins the e2e cluster's
// Corefile uses (e2e/cluster.sh). The full binary links every plugin and so
// every cloud provider's SDK; this one builds in a fraction of its time.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/template"
)

// directives are the plugins above in the order CoreDNS's plugin.cfg
// chains them.
var directives = []string{"bind", "ready", "errors", "cache", "template", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
