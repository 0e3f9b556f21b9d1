// Package realtime serves tenant-scoped Server-Sent Events fed by Redis, with
// gap-free resume.
//
// Storage: each tenant's events live in one Redis Stream (every channel, the
// channel as a field), so event ids are totally ordered per tenant and one
// Last-Event-ID resumes /events as well as a single channel — also on Cluster,
// where the stream is one key (hash tag: the tenant). The stream is capped at
// history_size × number of channels and history_ttl. A Lua script stores the
// event and announces it on one pub/sub channel atomically; publishes that
// arrive while one is being stored are stored together by the next call (one
// script call per tenant, pipelined), each caller still getting its own id.
//
// Fan-out: one SUBSCRIBE per process, whatever the number of clients, tenants
// or channels. Each client has a bounded queue; a client too slow to keep up is
// disconnected (it resumes by id) and counted, never blocking others. When the
// subscription is re-established after a dropped connection, every client reads
// the stream from its last delivered id, so nothing stored is missed.
//
// HTTP (permission realtime.read to read, realtime.publish to publish):
//
//	GET  /api/v1/realtime/{channel}   one channel of the caller's tenant
//	GET  /api/v1/realtime/events      every channel; each event carries "source"
//	POST /api/v1/realtime/{channel}   202 {"id"}: stored before the answer
//
// A stream starts with "retry:" and "event: connected"; each event has
// "id:", "event:" (its event_type) and "data:" (its JSON); a heartbeat comment
// follows every heartbeat_interval. With Last-Event-ID the stream first replays
// what followed that id (after "event: reset" when the id is older than the
// history). Streams end with "event: shutdown" when the server drains,
// "event: token_expired" when the token expires and "event: slow_client" when
// the client cannot keep up. New streams get 503 JSON with Retry-After while
// Redis is down, while draining, or when max_clients is reached.
//
// Other modules publish through the Publisher interface with the same
// validation.
package realtime
