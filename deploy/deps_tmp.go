package deploy

// Temporary: keeps the modules the new deploy tests use in go.mod while they
// are being written in parallel. Removed once the tests import them.
import (
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/prometheus/prometheus/promql/parser"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "go.starlark.net/starlark"
)
