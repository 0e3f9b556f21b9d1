package redistest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// Snapshot returns every key of rdb's database with its type, serialized
// content (DUMP) and whether it expires: compare two with Changed to prove
// that a refused command or script wrote nothing.
func Snapshot(t testing.TB, rdb *goredis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		dump, err := rdb.Dump(ctx, k).Result()
		if err != nil && err != goredis.Nil { // gone meanwhile: absent
			t.Fatal(err)
		}
		ttl, _ := rdb.PTTL(ctx, k).Result()
		out[k] = fmt.Sprintf("%s|%q|%v", rdb.Type(ctx, k).Val(), dump, ttl > 0)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Changed lists, sorted, the keys whose snapshot differs between before and
// after, marking those that are new or gone.
func Changed(before, after map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(before)) {
		switch v, ok := after[k]; {
		case !ok:
			out = append(out, k+" (gone)")
		case v != before[k]:
			out = append(out, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[k]; !ok {
			out = append(out, k+" (new)")
		}
	}
	return out
}
