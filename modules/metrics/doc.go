// Package metrics gives the application its own Prometheus registry and the
// tenant KPI dashboard.
//
// Prometheus: Go and process collectors, HTTP series by route template
// ("unmatched" for any other path), method (the standard ones, else "other")
// and status (redifx_http_requests_total, redifx_http_request_duration_seconds,
// redifx_http_requests_in_flight), Redis command durations by command name
// (redifx_redis_command_duration_seconds, a go-redis hook with a bounded label
// set) and every collector any module adds to the "prometheus.collectors"
// value group (Redis pool, realtime, jobs). Served without authentication at
// GET /metrics on the main listener, or on metrics.addr when set.
//
// Dashboard: GET /api/v1/metrics/dashboard (metrics.read) returns one section
// per source (AsSource / AsSourceProvider), "timestamp" and
// "cache": {"available","hit","age_seconds","ttl_seconds"}. Cache-aside in
// Redis per tenant for metrics.cache_ttl; a cold dashboard is computed once per
// process (single flight) and about once across replicas (a short Redis lock).
// A cached entry is used only when its body is one JSON object and it was
// computed less than cache_ttl ago (not in the future); anything else there —
// a corrupt body, a key that lost its TTL, a key of another type — is a miss
// that recomputes and overwrites it. A lock key without a TTL (none is ever
// written so) is given lock_ttl, so that it delays cold dashboards once only.
// POST /api/v1/metrics/cache/invalidate (metrics.manage) clears the caller's
// tenant. Without Redis the dashboard is computed uncached, never a 500; a
// source that fails reads {"available": false, "message": …} naming the Redis
// condition when there is one. Invalidate answers 503 naming the condition
// (redis.Describe), 500 with the request id for anything else.
//
// Keys (keys.go): prefix + "metrics:{" + tenant + "}:dashboard" and ":lock";
// tenant ids must pass keyspace.ValidateID — Load and Invalidate refuse others
// with an error naming tenant_id, Get computes them uncached.
package metrics
