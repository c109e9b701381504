# travluk-ecom — `make help` lists the targets.
MODULES  := services/platform services/customer services/product services/order dev deploy e2e/pause e2e/checks
PACKAGES := $(addprefix ./,$(addsuffix /...,$(MODULES)))
GO       ?= go
STATICCHECK_VERSION := v0.8.2

.DEFAULT_GOAL := help
.PHONY: help run seed stores test test-alerts api-diff contract bench vet lint fmt render images e2e-tools e2e

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# run and seed build the program first and then exec it, so that Ctrl-C
# reaches it alone under make: it stops cleanly and exits 0, and make adds
# no error of its own.
TRAVLUK_BUILD = @echo "travluk: building ./dev/cmd/travluk into bin/ (seconds once built; the first build takes a minute or more, longer when Go downloads the modules first)" && \
	$(GO) build -o bin/travluk ./dev/cmd/travluk

run: ## run the whole shop on http://localhost:8080: embedded MongoDB, Redis and event bus, a demo catalog in an empty catalog, data in ./.data
	$(TRAVLUK_BUILD)
	@exec bin/travluk

seed: ## make run, loading the demo catalog into an empty catalog even on a real MongoDB (MONGODB_URI)
	$(TRAVLUK_BUILD)
	@exec env SEED_CATALOG=true bin/travluk

stores: ## run only the embedded MongoDB (:27017) and Redis (:6380), to run a service on its own
	$(GO) run ./dev/cmd/stores

test: vet ## run every test (real servers from MONGODB_URI, REDIS_URL, AMQP_URL; embedded ones otherwise)
	$(GO) test -count=1 -timeout 20m $(PACKAGES)

test-alerts: ## the alert rules' promtool unit tests (deploy/alerts/); builds promtool into .e2e/bin first if missing (cold: minutes)
	@test -x .e2e/bin/promtool || GO=$(GO) e2e/tools/prometheus/build.sh .e2e/bin
	cd deploy && PROMTOOL=$(CURDIR)/.e2e/bin/promtool $(GO) test -count=1 -run 'TestAlertRules' .

api-diff: ## the OpenAPI documents against the release in contract/previous-release (oasdiff): a breaking change fails unless info.version's major grew; the check's own tests first; builds oasdiff into .tools/bin once (cold: 1-2 min)
	GO=$(GO) contract/api-diff_test.sh
	GO=$(GO) contract/api-diff.sh

bench: ## the catalog read and the order flow under load, against ceilings measured in the same run (results in bench-results/)
	$(GO) run ./dev/cmd/bench

contract: ## the OpenAPI documents against the live shop: Spectral lint, a Newman journey through Prism proxies, Prism mocks (needs Node 20 and npm; results in contract/results/)
	GO=$(GO) contract/run.sh

vet: ## go vet every module
	$(GO) vet $(PACKAGES)

lint: vet ## go vet, gofmt and staticcheck
	@test -z "$$(gofmt -l services dev deploy e2e)" || (gofmt -l services dev deploy e2e; echo "gofmt: files above need formatting"; exit 1)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PACKAGES)

fmt: ## format every Go file
	gofmt -w services dev deploy e2e

render: ## re-render the edge, k8s/gateway.yaml and k8s/ingress.yaml, from the route table in dev/ingress
	cd deploy && $(GO) run ./cmd/render-ingress -dir ../k8s

images: VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
images: ## build the three service images with buildah, no Docker daemon (travluk/<service>:VERSION; prints sizes)
	@for s in customer product order; do GO=$(GO) VERSION=$(VERSION) images/build.sh $$s travluk/$$s:$(VERSION) || exit 1; done

e2e-tools: ## build the pinned e2e programs (etcd, Kubernetes v1.34.3, CoreDNS, helm, Traefik, the monitoring, autoscaling and NetworkPolicy add-ons, promtool; skaffold and Tilt) into .e2e/bin; E2E_TOOLS=cluster leaves out skaffold and Tilt; cold 40-55 min, warm seconds
	GO=$(GO) e2e/build-tools.sh $(E2E_TOOLS)

e2e: ## the shop on a real single-node Kubernetes cluster (root; see docs/deploy.md#make-e2e): build, install with k8s/ and the charts, check through the Gateway, tear down
	GO=$(GO) e2e/run.sh
