package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redifx/redifx/modules/redis"
)

// Publisher publishes events for a tenant: the same validation as
// POST /api/v1/realtime/{channel}. Other modules in the process (jobs progress)
// depend on this interface, not on the Hub.
type Publisher interface {
	// Publish validates event for channel (filling tenant_id and timestamp),
	// stores it and announces it; the returned id is what streams carry. Errors:
	// *ValidationError, ErrUnknownChannel, ErrWrongTenant, or one wrapping
	// redis.ErrUnavailable.
	Publish(ctx context.Context, tenant, channel string, event map[string]any) (string, error)
}

var _ Publisher = (*Hub)(nil)

// Publish implements Publisher.
func (h *Hub) Publish(ctx context.Context, tenant, channel string, event map[string]any) (string, error) {
	if tenant == "" {
		return "", invalid("tenant_id", "required")
	}
	eventType, err := normalize(channel, tenant, event, time.Now())
	if err != nil {
		return "", err
	}
	if err := h.mgr.Err(); err != nil {
		return "", err
	}
	data, err := json.Marshal(event)
	if err != nil {
		return "", invalid("body", "cannot be encoded: %v", err)
	}
	serial := ""
	if channel == ChannelONUStatus {
		serial, _ = event["onu_serial"].(string)
	}
	id, err := h.store.add(ctx, tenant, channel, eventType, serial, data)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return "", err
		}
		return "", fmt.Errorf("%w: storing the event: %v", redis.ErrUnavailable, err)
	}
	h.stats.Published.Add(1)
	return id, nil
}
