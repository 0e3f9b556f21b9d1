package jobs

import (
	"github.com/redifx/redifx/modules/redis"
	goredis "github.com/redis/go-redis/v9"
)

// conflictError is an ErrConflict with its own message.
type conflictError string

func (e conflictError) Error() string        { return string(e) }
func (e conflictError) Is(target error) bool { return target == ErrConflict }

// txError classifies the outcome of a MULTI/EXEC pipeline: when Redis refused
// a queued command for a condition (OOM while queuing a write, READONLY …),
// EXEC answers EXECABORT, which names none; the queued command's error names
// it, so that the caller answers 503 naming the condition.
func txError(cmds []goredis.Cmder, err error) error {
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if _, ok := redis.Condition(c.Err()); ok {
			return redis.Classify(c.Err())
		}
	}
	return redis.Classify(err)
}
