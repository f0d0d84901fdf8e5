package handlers

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteInfo is one row of the route table as tests see it.
type RouteInfo struct{ Method, Path, Access string }

// RouteTable lists every route of the table with its access, so a test can
// request each one as a stranger and expect the refusal its access demands.
func RouteTable() []RouteInfo {
	var out []RouteInfo
	for _, r := range (&Server{deps: Deps{Logger: slog.Default(), Metrics: prometheus.NewRegistry()}}).routes() {
		out = append(out, RouteInfo{Method: r.method, Path: r.path, Access: string(r.access)})
	}
	return out
}

// OpenAPIJSON is the OpenAPI document as the server serves it, for tests
// of the conformance check that need no server.
func OpenAPIJSON() ([]byte, error) {
	d, err := buildAPIDoc((&Server{deps: Deps{Logger: slog.Default(), Metrics: prometheus.NewRegistry()}}).routes())
	if err != nil {
		return nil, err
	}
	return d.json, nil
}
