package realtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The channels.
const (
	ChannelONUStatus      = "onu-status"
	ChannelAlerts         = "alerts"
	ChannelTickets        = "tickets"
	ChannelSubscribers    = "subscribers"
	ChannelRadiusSessions = "radius-sessions"
	ChannelJobs           = "jobs"
)

// Channels lists every channel in a stable order.
var Channels = []string{ChannelONUStatus, ChannelAlerts, ChannelTickets, ChannelSubscribers, ChannelRadiusSessions, ChannelJobs}

// fieldKind is the JSON type a field must have.
type fieldKind int

const (
	kindString fieldKind = iota
	kindNumber
	kindInteger
)

type field struct {
	name     string
	kind     fieldKind
	required bool
	enum     []string
	min, max *float64
}

type channelSchema struct {
	eventTypes []string
	fields     []field
	// owner, when set, names the module that alone writes the channel,
	// through the Go API (Publisher); HTTP publishes there are refused
	// with 403, so that callers cannot forge the module's events.
	owner string
}

func num(v float64) *float64 { return &v }

var onuStatuses = []string{"online", "offline", "rebooting", "degraded"}

// schemas defines each channel's event types and fields (docs/openapi.yaml
// documents the same).
var schemas = map[string]channelSchema{
	ChannelONUStatus: {
		eventTypes: []string{"onu.online", "onu.offline", "onu.signal_degraded", "onu.provisioned", "onu.deprovisioned"},
		fields: []field{
			{name: "onu_serial", required: true},
			{name: "status", required: true, enum: onuStatuses},
			{name: "signal_dbm", kind: kindNumber, min: num(-60), max: num(10)},
			{name: "previous_status", enum: onuStatuses},
			{name: "olt_id"},
			{name: "pon_port", kind: kindInteger, min: num(0)},
			{name: "subscriber_id"},
		},
	},
	ChannelAlerts: {
		eventTypes: []string{"alert.raised", "alert.cleared"},
		fields: []field{
			{name: "alert_id", required: true},
			{name: "severity", required: true, enum: []string{"info", "warning", "error", "critical"}},
			{name: "message", required: true},
			{name: "origin"},
			{name: "resource_id"},
		},
	},
	ChannelTickets: {
		eventTypes: []string{"ticket.created", "ticket.updated", "ticket.assigned", "ticket.resolved", "ticket.closed"},
		fields: []field{
			{name: "ticket_id", required: true},
			{name: "status", enum: []string{"open", "in_progress", "waiting", "resolved", "closed"}},
			{name: "priority", enum: []string{"low", "normal", "high", "urgent"}},
			{name: "subject"},
			{name: "assigned_to"},
			{name: "subscriber_id"},
		},
	},
	ChannelSubscribers: {
		eventTypes: []string{"subscriber.created", "subscriber.activated", "subscriber.suspended", "subscriber.terminated"},
		fields: []field{
			{name: "subscriber_id", required: true},
			{name: "status", enum: []string{"pending", "active", "suspended", "terminated"}},
			{name: "username"},
			{name: "plan"},
			{name: "reason"},
		},
	},
	ChannelRadiusSessions: {
		eventTypes: []string{"session.started", "session.updated", "session.stopped"},
		fields: []field{
			{name: "session_id", required: true},
			{name: "username", required: true},
			{name: "nas_ip"},
			{name: "framed_ip"},
			{name: "bytes_in", kind: kindInteger, min: num(0)},
			{name: "bytes_out", kind: kindInteger, min: num(0)},
			{name: "terminate_cause"},
		},
	},
	ChannelJobs: {
		owner:      "jobs",
		eventTypes: []string{"job.created", "job.started", "job.progress", "job.retrying", "job.completed", "job.failed", "job.cancelled", "job.timeout"},
		fields: []field{
			{name: "job_id", required: true},
			{name: "job_type"},
			{name: "status"},
			{name: "progress", kind: kindNumber, min: num(0), max: num(100)},
			{name: "items_processed", kind: kindInteger, min: num(0)},
			{name: "items_total", kind: kindInteger, min: num(0)},
			{name: "message"},
			{name: "error"},
		},
	},
}

// ValidChannel reports whether name is a channel.
func ValidChannel(name string) bool { _, ok := schemas[name]; return ok }

// Fields returns the names of the event fields channel's schema defines
// (besides event_type, tenant_id and timestamp), in schema order; nil for an
// unknown channel.
func Fields(channel string) []string {
	sc, ok := schemas[channel]
	if !ok {
		return nil
	}
	out := make([]string, len(sc.fields))
	for i, f := range sc.fields {
		out[i] = f.name
	}
	return out
}

// ChannelOwner returns the module that owns channel — only it writes the
// channel, through the Go API — or "" when callers with realtime.publish may
// publish there over HTTP.
func ChannelOwner(channel string) string { return schemas[channel].owner }

// ErrUnknownChannel is returned for a channel not in Channels.
var ErrUnknownChannel = errors.New("unknown channel")

// ErrWrongTenant is returned when an event names another tenant than the caller's.
var ErrWrongTenant = errors.New("tenant_id differs from the caller's tenant")

// ValidationError names the field that is wrong.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Message }

func invalid(f, format string, args ...any) error {
	return &ValidationError{Field: f, Message: fmt.Sprintf(format, args...)}
}

// normalize validates ev for channel and tenant, filling tenant_id and
// timestamp. It returns the event type.
func normalize(channel, tenant string, ev map[string]any, now time.Time) (string, error) {
	sc, ok := schemas[channel]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrUnknownChannel, channel)
	}
	if ev == nil {
		return "", invalid("body", "must be a JSON object")
	}
	et, ok := ev["event_type"].(string)
	if !ok || et == "" {
		return "", invalid("event_type", "required, one of %v", sc.eventTypes)
	}
	if !slices.Contains(sc.eventTypes, et) {
		return "", invalid("event_type", "must be one of %v for channel %s, got %q", sc.eventTypes, channel, et)
	}
	if _, ok := ev["source"]; ok {
		return "", invalid("source", "is reserved: /events adds it to name the channel")
	}
	switch t := ev["tenant_id"].(type) {
	case nil:
		ev["tenant_id"] = tenant
	case string:
		if t != tenant {
			return "", ErrWrongTenant
		}
	default:
		return "", invalid("tenant_id", "must be a string")
	}
	switch ts := ev["timestamp"].(type) {
	case nil:
		ev["timestamp"] = now.UTC().Format(time.RFC3339Nano)
	case string:
		parsed, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return "", invalid("timestamp", "must be RFC 3339, got %q", ts)
		}
		ev["timestamp"] = parsed.UTC().Format(time.RFC3339Nano)
	default:
		return "", invalid("timestamp", "must be an RFC 3339 string")
	}
	for name, v := range ev {
		if err := checkSpelling(sc, name); err != nil {
			return "", err
		}
		if err := checkNumbers(name, v); err != nil {
			return "", err
		}
	}
	for _, f := range sc.fields {
		v, present := ev[f.name]
		if !present || v == nil {
			if f.required {
				return "", invalid(f.name, "required")
			}
			continue
		}
		if err := f.check(v); err != nil {
			return "", err
		}
	}
	return et, nil
}

func (f field) check(v any) error {
	switch f.kind {
	case kindString:
		s, ok := v.(string)
		if !ok {
			return invalid(f.name, "must be a string")
		}
		if f.required && s == "" {
			return invalid(f.name, "must not be empty")
		}
		if f.required && strings.TrimSpace(s) == "" {
			return invalid(f.name, "must not be blank (only white space)")
		}
		if f.enum != nil && !slices.Contains(f.enum, s) {
			return invalid(f.name, "must be one of %v, got %q", f.enum, s)
		}
		return nil
	}
	n, ok := toFloat(v)
	if !ok || math.IsNaN(n) || math.IsInf(n, 0) {
		return invalid(f.name, "must be a number")
	}
	if f.kind == kindInteger && n != math.Trunc(n) {
		return invalid(f.name, "must be an integer")
	}
	if f.kind == kindInteger && math.Abs(n) > MaxExactInteger {
		return invalid(f.name, "must be between -%d and %d (integers beyond are not exact in JSON readers)", int64(MaxExactInteger), int64(MaxExactInteger))
	}
	if f.min != nil && n < *f.min {
		return invalid(f.name, "must be at least %v", *f.min)
	}
	if f.max != nil && n > *f.max {
		return invalid(f.name, "must be at most %v", *f.max)
	}
	return nil
}

// reservedMembers are the members every event has besides its schema's.
var reservedMembers = []string{"event_type", "tenant_id", "timestamp", "source"}

// checkSpelling refuses a member that is a schema field or a reserved member
// spelled in another case ("Status", "ſtatus", "Tenant_ID"): it would pass
// validation as an unknown member while readers that match names without
// regard to case (encoding/json among them, the ONU view included) take it
// for the field, so an event validated as status "online" could read as any
// status there, or name another tenant.
func checkSpelling(sc channelSchema, name string) error {
	check := func(known string) error {
		if name != known && strings.EqualFold(name, known) {
			return invalid(name, "is %s spelled differently; members are case-sensitive and this one would be mistaken for it", known)
		}
		return nil
	}
	for _, known := range reservedMembers {
		if err := check(known); err != nil {
			return err
		}
	}
	for _, f := range sc.fields {
		if err := check(f.name); err != nil {
			return err
		}
	}
	return nil
}

// MaxExactInteger is the largest integer an integer field of an event takes:
// 2^53-1, the largest that every JSON reader (JavaScript's among them) holds
// exactly.
const MaxExactInteger = 1<<53 - 1

// checkNumbers refuses, naming its path, a number anywhere in v (the value of
// the event's member name) that no float64 holds, such as 1e400: it would
// reach readers as infinity or fail to decode there.
func checkNumbers(path string, v any) error {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return invalid(path, "is not a representable number: %.40s", x.String())
		}
	case map[string]any:
		for k, e := range x {
			if err := checkNumbers(path+"."+k, e); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := checkNumbers(path+"["+strconv.Itoa(i)+"]", e); err != nil {
				return err
			}
		}
	}
	return nil
}

// toFloat accepts the numbers of decoded JSON and of Go callers of Publish.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
