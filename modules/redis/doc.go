// Package redis is redifx's centrally managed Redis client: one Manager builds the
// clients from Config (standalone, Sentinel or Cluster; TLS; ACL user and
// password; pool size and timeouts), connects them at start, keeps probing Redis,
// reconnects by itself and closes them last.
//
// Start-up depends on the environment (see Config): where Redis is required (the
// production default) an unreachable server fails start-up with an error naming
// the address; elsewhere the manager starts degraded and reconnects in the
// background, or — in development, when embedded_fallback is on — serves from an
// in-process Redis-compatible server so that the app runs on a machine without
// Redis. Callers check Manager.Err (errors.Is(err, ErrUnavailable)) and answer 503.
//
// A Redis that answers but refuses the configuration — wrong password (WRONGPASS,
// NOAUTH), an unknown or disabled ACL user, a user without a permission redifx
// needs (NOPERM), a database that does not exist, a server certificate that does
// not verify, a client certificate the server demands, TLS on against a port
// that speaks plain RESP or off against one that speaks TLS, a wrong
// sentinel_password — is a *ConfigError naming
// the setting to fix. Start fails with it in every environment: it is never a
// reason to fall back to the embedded server or to start degraded. After a
// successful start (a password rotated on the server, say) the manager degrades
// with reason "refused" (Manager.Err's condition CondRefused, the health check's
// "reason" and "setting", log event redis.refused) rather than "unreachable";
// a single command refused with NOAUTH, WRONGPASS or NOPERM is the same
// condition (Condition returns CondRefused), so HTTP adapters answer 503.
//
// The health check stays healthy while Redis answers PING and reads but
// refuses writes (over maxmemory with noeviction, or a read-only replica), and
// says so: reason OOM or READONLY, read_only true, a message naming it.
//
// Logical databases: besides the default client there are "cache", "session" and
// "pubsub" clients on cache_db, session_db and pubsub_db. In cluster mode, which
// has database 0 only, all four share one cluster client; keep their keys apart
// with Manager.Prefix(name). Each standalone/sentinel client has its own pool of
// max_connections, opened lazily.
//
// Log events an operator can alert on: redis.initialized, redis.init.failed,
// redis.init.refused, redis.degraded, redis.refused, redis.reconnected,
// redis.embedded_fallback, redis.closed. No log
// line or error carries the password.
//
// Used without Fx:
//
//	m, err := redis.NewManager(redis.DefaultConfig(), logger)
//	if err != nil { ... }
//	if err := m.Start(ctx); err != nil { ... }
//	defer m.Stop(context.Background())
//	if err := m.Err(); errors.Is(err, redis.ErrUnavailable) { ... }
//	m.Client().Set(ctx, m.Prefix(redis.ClientDefault)+"greeting", "hello", 0)
//
// In an Fx app: fx.New(config.Supply(&cfg), logging.Module, redis.Module, ...),
// then depend on *redis.Manager, goredis.UniversalClient, or a named client
// (`name:"cache"`).
package redis
