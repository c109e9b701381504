#!/bin/sh
# Dev-only: makes sure the Secrets the charts reference exist in namespace
# travluk (or $NAMESPACE) before the services start. The charts never create
# Secrets (values secrets.existingSecret, signingKey.existingSecret); in a real
# cluster create them from the operators' generated Secrets as docs/deploy.md
# says. This script creates only what is missing, from the variables `make run`
# reads too:
#
#   MONGODB_URI, REDIS_URL, AMQP_URL   connection strings, the same for every
#                                      service (each uses its own database)
#   ADMIN_EMAIL, ADMIN_PASSWORD        optional: the customer service's admin
#
# and generates the customer service's Ed25519 signing key with openssl.
# An existing Secret is never changed. Without the variables it fails, naming
# what is missing. `tilt up` runs it as the dev-secrets resource; skaffold runs
# it as a hook before the helm deployer.
set -eu
ns=${NAMESPACE:-travluk}
kc() {
	# skaffold hooks name the context skaffold deploys to; Tilt uses the current one.
	kubectl ${SKAFFOLD_KUBE_CONTEXT:+--context "$SKAFFOLD_KUBE_CONTEXT"} -n "$ns" "$@"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
missing=

# ensure SECRET VAR... [-- OPTIONAL_VAR...]: creates SECRET from the variables
# (each becomes a key of the same name) unless it exists.
ensure() {
	name=$1
	shift
	if kc get secret "$name" >/dev/null 2>&1; then
		echo "secret $name: exists, left as it is"
		return
	fi
	: >"$tmp/$name.env"
	optional=false
	for var; do
		if [ "$var" = -- ]; then
			optional=true
			continue
		fi
		eval "value=\${$var:-}"
		if [ -n "$value" ]; then
			printf '%s=%s\n' "$var" "$value" >>"$tmp/$name.env"
		elif [ "$optional" = false ]; then
			missing="$missing
  secret $name needs $var"
			return
		fi
	done
	kc create secret generic "$name" --from-env-file="$tmp/$name.env" >/dev/null
	echo "secret $name: created"
}

ensure customer MONGODB_URI REDIS_URL -- ADMIN_EMAIL ADMIN_PASSWORD
ensure product MONGODB_URI REDIS_URL AMQP_URL
ensure order MONGODB_URI REDIS_URL AMQP_URL

if kc get secret customer-jwt-signing-key >/dev/null 2>&1; then
	echo "secret customer-jwt-signing-key: exists, left as it is"
else
	openssl genpkey -algorithm ed25519 -out "$tmp/jwt-signing-key.pem"
	kc create secret generic customer-jwt-signing-key \
		--from-file=jwt-signing-key.pem="$tmp/jwt-signing-key.pem" >/dev/null
	echo "secret customer-jwt-signing-key: created with a new key"
fi

if [ -n "$missing" ]; then
	echo "dev-secrets: cannot create these Secrets in namespace $ns:$missing" >&2
	echo "Set the variables (e.g. MONGODB_URI=mongodb://... REDIS_URL=redis://... AMQP_URL=amqp://...)" >&2
	echo "and run dev/tilt/dev-secrets.sh again, or create the Secrets yourself (docs/deploy.md)." >&2
	exit 1
fi
