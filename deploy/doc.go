// Package deploy holds no code of its own: its tests keep the Helm charts in
// charts/ and the cluster manifests in k8s/ true to the services. They render
// each chart through the Helm SDK, decode every object strictly into its typed
// Kubernetes struct (an unknown or misspelt field fails), and check that ports,
// probes, environment names and the ingress route table match what the
// services actually serve and read.
//
// Packages below it: manifest (rendering and strict decoding), ingressyaml
// (k8s/gateway.yaml and k8s/ingress.yaml from dev/ingress.Routes) and
// cmd/render-ingress.
package deploy
