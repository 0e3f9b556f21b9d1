package realtime_test

import (
	"context"
	"fmt"

	"github.com/redifx/redifx/modules/realtime"
)

// Other modules publish through the Publisher interface; validation is the
// same as for POST /api/v1/realtime/{channel}.
func ExamplePublisher() {
	progress := func(ctx context.Context, p realtime.Publisher, tenant, jobID string, pct float64) error {
		_, err := p.Publish(ctx, tenant, realtime.ChannelJobs, map[string]any{
			"event_type": "job.progress", "job_id": jobID, "progress": pct,
		})
		return err
	}
	fmt.Println(progress != nil, realtime.Channels)
	// Output: true [onu-status alerts tickets subscribers radius-sessions jobs]
}
