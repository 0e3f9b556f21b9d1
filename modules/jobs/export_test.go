package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
)

// StartManagerForTest starts a Redis manager on url, without Fx and without
// the embedded fallback, with keyPrefix when it is not empty; it stops when
// the test ends. For tests of the plain-Go API (NewQueue, NewWorker).
func StartManagerForTest(t testing.TB, url, keyPrefix string) *redis.Manager {
	t.Helper()
	rcfg := redis.DefaultConfig()
	rcfg.URL, rcfg.EmbeddedFallback = url, false
	if keyPrefix != "" {
		rcfg.KeyPrefix = keyPrefix
	}
	mgr, err := redis.NewManager(rcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Stop(context.Background()) })
	return mgr
}

// StoreScheduleFieldsForTest overwrites fields of schedule id's stored hash
// and makes it due at dueAt, bypassing validation: it stands for a schedule
// stored by an older version or a damaged hash.
func StoreScheduleFieldsForTest(ctx context.Context, q *Queue, id string, fields map[string]string, dueAt time.Time) error {
	_, err := q.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, q.k.sched(id), fields)
		p.ZAdd(ctx, q.k.schedDue(), goredis.Z{Score: float64(dueAt.UnixMilli()), Member: id})
		return nil
	})
	return err
}

// ScheduleDueForTest reports whether schedule id is on the due list.
func ScheduleDueForTest(ctx context.Context, q *Queue, id string) (bool, error) {
	err := q.rdb.ZScore(ctx, q.k.schedDue(), id).Err()
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// PlantPoisonJobForTest stores job id as a string (a damaged record) and
// lists it where a worker meets it: at the head of the normal queue, on the
// due delayed list and on the expired lease list.
func PlantPoisonJobForTest(ctx context.Context, q *Queue, id string) error {
	_, err := q.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, q.k.job(id), "damaged", 0)
		p.LPush(ctx, q.k.queue("normal"), id)
		p.ZAdd(ctx, q.k.delayed(), goredis.Z{Score: 1, Member: id})
		p.ZAdd(ctx, q.k.leases(), goredis.Z{Score: 1, Member: id})
		return nil
	})
	return err
}

// PlantPoisonScheduleForTest stores schedule id as a string (a damaged
// record) due at once.
func PlantPoisonScheduleForTest(ctx context.Context, q *Queue, id string) error {
	_, err := q.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, q.k.sched(id), "damaged", 0)
		p.ZAdd(ctx, q.k.schedDue(), goredis.Z{Score: 1, Member: id})
		return nil
	})
	return err
}

// StoreJobFieldsForTest overwrites fields of job id's stored hash, bypassing
// validation: it stands for a job stored by an older version (before a
// validator or a bound existed).
func StoreJobFieldsForTest(ctx context.Context, q *Queue, id string, fields map[string]string) error {
	return q.rdb.HSet(ctx, q.k.job(id), fields).Err()
}
