package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// SetLibraryLogger routes go-redis's own messages (pool problems, Sentinel
// failovers) through log, event "redis.library", instead of the standard
// logger. go-redis has one process-wide logger, so the binary calls this once.
func SetLibraryLogger(log *zap.Logger) {
	goredis.SetLogger(libraryLogger{log: log.Named("redis")})
}

type libraryLogger struct{ log *zap.Logger }

func (l libraryLogger) Printf(_ context.Context, format string, v ...any) {
	// Debug: during an outage go-redis reports every failed dial; the
	// manager's own events (redis.degraded, redis.reconnected) say what matters.
	l.log.Debug("redis.library", zap.String("message", fmt.Sprintf(format, v...)))
}
