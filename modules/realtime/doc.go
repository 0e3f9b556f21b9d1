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
// what followed that id. An id outside the history gets "event: reset" first,
// with a cause: "behind" (older than the history: the whole history follows),
// "ahead" (newer than the newest stored event, as after a failover or a Redis
// restart that lost the last events: the events stored from then on follow) or
// "empty". Streams end with "event: shutdown" when the server drains,
// "event: token_expired" when the token's exp plus auth.leeway passes (the
// instant the middleware starts refusing the same token, see
// auth.Caller.ValidUntil) and "event: slow_client" when the client cannot keep
// up. New streams get 503 JSON with Retry-After while Redis is unavailable
// (naming the condition), while draining, or when max_clients is reached.
//
// Publishing: an event is at most max_event_bytes (413 event_too_large); each
// tenant's history is also held under history_max_bytes, the oldest events
// dropped by the same script that stores a new one. POST accepts an
// Idempotency-Key: the same key of the same tenant answers the same id and
// stores the event once (a different event with that key: 422). A channel
// owned by a module (ChannelOwner: jobs) is written only through the Go API;
// HTTP publishes there get 403. Redis conditions answer 503 naming the
// condition (redis.Describe); other errors are 500, logged with the request
// id.
//
// Keys: every key and the pub/sub channel are built in keys.go; tenant ids
// must pass keyspace.ValidateID (the Go APIs return a *ValidationError naming
// tenant_id otherwise), and idempotency keys are length-prefixed.
//
// Other modules publish through the Publisher interface with the same
// validation (Hub.PublishOnce adds an idempotency key).
package realtime
