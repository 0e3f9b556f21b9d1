package metrics

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
)

// commandLabels bounds the command label: these names are kept, every other
// command is "other".
var commandLabels = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`get set setnx setex getex getdel del exists expire pexpire ttl pttl incr incrby decr
		hget hset hsetnx hgetall hmget hdel hincrby hexists hlen lpush rpush lpop rpop blpop brpop lrange llen lrem ltrim
		sadd srem smembers scard sismember zadd zrem zrange zrangebyscore zrevrange zcard zscore zincrby
		xadd xrange xrevrange xread xtrim xlen publish subscribe unsubscribe psubscribe ping info evalsha eval
		script mget mset scan keys flushall flushdb select hello client cluster auth watch multi exec`) {
		commandLabels[c] = true
	}
}

func commandLabel(name string) string {
	if n := strings.ToLower(name); commandLabels[n] {
		return n
	}
	return "other"
}

// RedisHook is a go-redis hook timing every command by name
// (redifx_redis_command_duration_seconds); pipelines count as "pipeline".
type RedisHook struct {
	duration *prometheus.HistogramVec
}

// NewRedisHook builds the hook and its histogram.
func NewRedisHook() *RedisHook {
	return &RedisHook{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "redifx_redis_command_duration_seconds", Help: "Redis command duration by command name.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"command"})}
}

// Describe implements prometheus.Collector.
func (h *RedisHook) Describe(ch chan<- *prometheus.Desc) { h.duration.Describe(ch) }

// Collect implements prometheus.Collector.
func (h *RedisHook) Collect(ch chan<- prometheus.Metric) { h.duration.Collect(ch) }

// DialHook implements goredis.Hook.
func (h *RedisHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// ProcessHook implements goredis.Hook.
func (h *RedisHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.duration.WithLabelValues(commandLabel(cmd.Name())).Observe(time.Since(start).Seconds())
		return err
	}
}

// ProcessPipelineHook implements goredis.Hook.
func (h *RedisHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.duration.WithLabelValues("pipeline").Observe(time.Since(start).Seconds())
		return err
	}
}
