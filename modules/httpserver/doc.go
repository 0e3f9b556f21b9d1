// Package httpserver is redifx's HTTP server: a gin engine inside an http.Server
// with a request ID, access log, panic recovery and body size limit, the health
// endpoints, and a graceful drain.
//
// Endpoints (no auth):
//
//	GET /health         {"status":"healthy","version","environment"}
//	GET /health/live    {"status":"alive","version","environment","timestamp"}
//	GET /health/ready   {"status":"ready"|"not ready","healthy","services","failed_services","timestamp"}; 503 when not ready
//	GET /health/{name}  one check's JSON (e.g. /health/redis); 503 when it is not healthy
//
// Every health endpoint answers HEAD too (the status of GET, no body).
//
// Modules add routes with AsRoute and ordered middleware with AsMiddleware;
// errors use Error / Unavailable so that every error body is
// {"error": code, "message": text}.
//
// Request bodies: BindJSON accepts exactly one JSON object (400 for anything
// else, naming the field where there is one, and for bytes that are not UTF-8;
// 415 for a non-JSON Content-Type, a charset other than UTF-8 or a
// Content-Encoding),
// every body is capped at max_body_bytes (413) and must arrive within
// read_timeout (408, or the connection is closed). Requests without a body,
// such as event streams, have no read deadline.
//
// Shutdown: BeginDrain (called by the binary on SIGTERM, and by Stop) turns
// readiness to 503; the listener stays open for drain_delay so that load
// balancers stop routing. Kept-alive connections are not closed under a proxy
// that may be writing into them: each answer during the drain carries
// "Connection: close", and a connection idle for DrainIdleClose is closed.
// Then http.Server.Shutdown waits up to shutdown_timeout for in-flight
// requests. Streaming handlers end when Stopping() closes.
//
// Alone, without Fx:
//
//	s := httpserver.New(httpserver.Options{Config: httpserver.DefaultConfig(), Routes: routes})
//	if err := s.Start(ctx); err != nil { ... }
//	defer s.Stop(context.Background())
package httpserver
