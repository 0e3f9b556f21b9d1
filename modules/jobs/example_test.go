package jobs_test

import (
	"context"
	"fmt"

	"github.com/redifx/redifx/modules/jobs"
	"go.uber.org/fx"
)

// A handler reports progress, honours cancellation and returns a result; it is
// registered with AsHandler next to jobs.Module.
func ExampleAsHandler() {
	resize := func(ctx context.Context, job *jobs.Job, progress jobs.Progress) (any, error) {
		for i := int64(1); i <= job.ItemsTotal; i++ {
			if err := ctx.Err(); err != nil {
				return nil, err // cancelled, timed out or shutting down
			}
			progress(ctx, jobs.ProgressUpdate{Percent: float64(i) * 100 / float64(job.ItemsTotal), ItemsProcessed: i, ItemsSucceeded: i})
		}
		return map[string]any{"resized": job.ItemsTotal}, nil
	}
	opt := fx.Options(jobs.Module, jobs.AsHandler("images.resize", resize))
	fmt.Println(opt != nil)
	// Output: true
}
