package realtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redifx/redifx/modules/redis"
)

// Publisher publishes events for a tenant: the same validation as
// POST /api/v1/realtime/{channel}. Other modules in the process (jobs progress)
// depend on this interface, not on the Hub.
type Publisher interface {
	// Publish validates event for channel (filling tenant_id and timestamp),
	// stores it and announces it; the returned id is what streams carry. Errors:
	// *ValidationError (also for a tenant that cannot be carried in a key,
	// naming tenant_id), ErrUnknownChannel, ErrWrongTenant, *TooLargeError, one
	// wrapping redis.ErrUnavailable (a Redis condition), or another error
	// (a logic error of the store).
	Publish(ctx context.Context, tenant, channel string, event map[string]any) (string, error)
}

var _ Publisher = (*Hub)(nil)

// ErrIdempotencyConflict is returned when an idempotency key was used before
// with a different event.
var ErrIdempotencyConflict = errors.New("the idempotency key was used with a different event")

// ErrOwnedChannel is returned to HTTP publishes on a channel a module owns.
var ErrOwnedChannel = errors.New("the channel is written by its module only")

// MaxIdempotencyKeyBytes is the longest idempotency key accepted.
const MaxIdempotencyKeyBytes = 255

// TooLargeError reports an event over Config.MaxEventBytes.
type TooLargeError struct {
	Size, Limit int
}

func (e *TooLargeError) Error() string {
	return "the event is " + strconv.Itoa(e.Size) + " bytes, over realtime.max_event_bytes (" + strconv.Itoa(e.Limit) + ")"
}

// Publish implements Publisher. It is the Go API of in-process modules, so
// it also writes channels that a module owns (see ChannelOwner).
func (h *Hub) Publish(ctx context.Context, tenant, channel string, event map[string]any) (string, error) {
	id, _, err := h.publish(ctx, tenant, channel, "", event, true)
	return id, err
}

// PublishOnce is Publish with an idempotency key: the same key of the same
// tenant answers the same event id, and the event is stored once (for
// Config.HistoryTTL). A different event with the same key returns
// ErrIdempotencyConflict. replayed says whether the key had been answered
// before. An empty key is Publish.
func (h *Hub) PublishOnce(ctx context.Context, tenant, channel, key string, event map[string]any) (id string, replayed bool, err error) {
	return h.publish(ctx, tenant, channel, key, event, true)
}

// publish validates, stores and announces event. owner says whether the
// caller may write channels that a module owns.
func (h *Hub) publish(ctx context.Context, tenant, channel, idemKey string, event map[string]any, owner bool) (string, bool, error) {
	if err := checkTenant(tenant); err != nil {
		return "", false, err
	}
	if len(idemKey) > MaxIdempotencyKeyBytes {
		return "", false, invalid("Idempotency-Key", "must be at most %d bytes, got %d", MaxIdempotencyKeyBytes, len(idemKey))
	}
	if !owner && ChannelOwner(channel) != "" {
		return "", false, fmt.Errorf("%w: %s is written by the %s module", ErrOwnedChannel, channel, ChannelOwner(channel))
	}
	fingerprint := ""
	if idemKey != "" {
		// The request as the caller sent it, before timestamp is filled in: a
		// retry of it matches.
		raw, err := json.Marshal(event)
		if err != nil {
			return "", false, invalid("body", "cannot be encoded: %v", err)
		}
		sum := sha256.Sum256(append([]byte(channel+"\x00"), raw...))
		fingerprint = hex.EncodeToString(sum[:16])
	}
	eventType, err := normalize(channel, tenant, event, time.Now())
	if err != nil {
		return "", false, err
	}
	data, err := json.Marshal(event)
	if err != nil {
		return "", false, invalid("body", "cannot be encoded: %v", err)
	}
	if len(data) > h.cfg.MaxEventBytes {
		return "", false, &TooLargeError{Size: len(data), Limit: h.cfg.MaxEventBytes}
	}
	if err := h.mgr.Err(); err != nil {
		return "", false, redis.Classify(err)
	}
	serial := ""
	if channel == ChannelONUStatus {
		serial, _ = event["onu_serial"].(string)
	}
	r := &publishReq{tenant: tenant, channel: channel, eventType: eventType, serial: serial, data: data, idemKey: idemKey, fingerprint: fingerprint}
	if err := h.store.add(ctx, r); err != nil {
		return "", false, err
	}
	if !r.replayed {
		h.stats.Published.Add(1)
	}
	return r.id, r.replayed, nil
}
