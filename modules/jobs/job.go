package jobs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redifx/redifx/modules/httpserver"
)

// Status is where a job stands.
type Status string

// The statuses. Terminal ones: completed, failed, cancelled, timeout.
const (
	StatusPending   Status = "pending"
	StatusRunning   Status = "running"
	StatusRetrying  Status = "retrying"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	StatusTimeout   Status = "timeout"
)

// Statuses lists every status.
var Statuses = []Status{StatusPending, StatusRunning, StatusRetrying, StatusCompleted, StatusFailed, StatusCancelled, StatusTimeout}

// Terminal reports whether s is final.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled || s == StatusTimeout
}

// Priorities, highest first.
var Priorities = []string{"critical", "high", "normal", "low"}

// priorityWeights make higher priorities more likely to be served first
// without starving lower ones.
var priorityWeights = map[string]int{"critical": 8, "high": 4, "normal": 2, "low": 1}

// Job is one unit of work, as the API shows it.
type Job struct {
	ID             string          `json:"id"`
	TenantID       string          `json:"tenant_id"`
	JobType        string          `json:"job_type"`
	Status         Status          `json:"status"`
	Title          string          `json:"title"`
	Description    string          `json:"description"`
	Priority       string          `json:"priority"`
	Parameters     json.RawMessage `json:"parameters"`
	Result         json.RawMessage `json:"result"`
	ProgressPct    float64         `json:"progress_percent"`
	ItemsTotal     int64           `json:"items_total"`
	ItemsProcessed int64           `json:"items_processed"`
	ItemsSucceeded int64           `json:"items_succeeded"`
	ItemsFailed    int64           `json:"items_failed"`
	CurrentItem    string          `json:"current_item"`
	ErrorMessage   string          `json:"error_message"`
	ErrorDetails   json.RawMessage `json:"error_details"`
	Attempts       int             `json:"attempts"`
	Recoveries     int             `json:"recoveries"`
	MaxRetries     int             `json:"max_retries"`
	TimeoutSeconds int             `json:"timeout_seconds"`
	RetryOf        *string         `json:"retry_of"`
	ScheduledJobID *string         `json:"scheduled_job_id"`
	CreatedBy      string          `json:"created_by"`
	CreatedAt      *time.Time      `json:"created_at"`
	RunAt          *time.Time      `json:"run_at"`
	StartedAt      *time.Time      `json:"started_at"`
	CompletedAt    *time.Time      `json:"completed_at"`
	CancelledAt    *time.Time      `json:"cancelled_at"`
}

// jobFromHash decodes the stored hash.
func jobFromHash(h map[string]string) *Job {
	j := &Job{
		ID: h["id"], TenantID: h["tenant_id"], JobType: h["job_type"], Status: Status(h["status"]),
		Title: h["title"], Description: h["description"], Priority: h["priority"],
		Parameters: rawOrNull(h["parameters"]), Result: rawOrNull(h["result"]), ErrorDetails: rawOrNull(h["error_details"]),
		CurrentItem: h["current_item"], ErrorMessage: h["error_message"], CreatedBy: h["created_by"],
	}
	j.ProgressPct, _ = strconv.ParseFloat(h["progress_percent"], 64)
	j.ProgressPct = clampPercent(j.ProgressPct) // NaN or ±Inf would not encode
	j.ItemsTotal = atoi64(h["items_total"])
	j.ItemsProcessed = atoi64(h["items_processed"])
	j.ItemsSucceeded = atoi64(h["items_succeeded"])
	j.ItemsFailed = atoi64(h["items_failed"])
	j.Attempts = int(atoi64(h["attempts"]))
	j.Recoveries = int(atoi64(h["recoveries"]))
	j.MaxRetries = int(atoi64(h["max_retries"]))
	j.TimeoutSeconds = int(atoi64(h["timeout_seconds"]))
	j.RetryOf = strOrNil(h["retry_of"])
	j.ScheduledJobID = strOrNil(h["scheduled_job_id"])
	j.CreatedAt = msTime(h["created_at"])
	j.RunAt = msTime(h["run_at"])
	j.StartedAt = msTime(h["started_at"])
	j.CompletedAt = msTime(h["completed_at"])
	j.CancelledAt = msTime(h["cancelled_at"])
	return j
}

// rawOrNull is a stored JSON field as the API shows it: null when it is
// absent, or when it is not valid JSON (a record altered outside redifx),
// which would otherwise make the whole answer fail to encode.
func rawOrNull(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func atoi64(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func msTime(s string) *time.Time {
	if s == "" || s == "0" {
		return nil
	}
	t := time.UnixMilli(atoi64(s)).UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return nil // altered outside redifx: JSON cannot show such a time
	}
	return &t
}

// Duration returns how long the job ran, when it has started and finished.
func (j *Job) Duration() (time.Duration, bool) {
	if j.StartedAt == nil || j.CompletedAt == nil {
		return 0, false
	}
	return j.CompletedAt.Sub(*j.StartedAt), true
}

// Bounds of the text fields of a CreateRequest and a ScheduleRequest.
const (
	// MaxTitleBytes bounds a job's title and a schedule's name.
	MaxTitleBytes = 500
	// MaxDescriptionBytes bounds a job's description.
	MaxDescriptionBytes = 10000
)

// checkParamsObject defaults absent or null parameters to {} and refuses
// anything but one JSON object, by the rules of a request body
// (httpserver.CheckJSONObject: nothing after it, no key twice, bounded
// nesting), naming the offending parameter: a Go caller's parameters, unlike
// those of an HTTP body, have not been checked yet.
func checkParamsObject(p *json.RawMessage) error {
	*p = bytes.TrimSpace(*p)
	if len(*p) == 0 || string(*p) == "null" {
		*p = json.RawMessage("{}")
	}
	if (*p)[0] != '{' || !json.Valid(*p) {
		return fieldErr("parameters", "must be a JSON object")
	}
	if field, err := httpserver.CheckJSONObject(*p); err != nil {
		if field == "" {
			return fieldErr("parameters", "%v", err)
		}
		return fieldErr("parameters."+field, "%v", err)
	}
	return nil
}

// checkText checks a text field: valid UTF-8, at most maxBytes long, no
// control characters (tab, newline and carriage return are allowed when
// multiLine), and, when required, not empty or only blank characters.
func checkText(field, v string, required bool, maxBytes int, multiLine bool) error {
	switch {
	case required && v == "":
		return fieldErr(field, "required")
	case len(v) > maxBytes:
		return fieldErr(field, "must be at most %d bytes, got %d", maxBytes, len(v))
	case !utf8.ValidString(v):
		return fieldErr(field, "must be valid UTF-8")
	case required && isBlank(v):
		return fieldErr(field, "must not be only white space")
	}
	for _, c := range v {
		if unicode.IsControl(c) && !(multiLine && (c == '\t' || c == '\n' || c == '\r')) {
			return fieldErr(field, "must not contain control characters (found %U)", c)
		}
	}
	return nil
}

// isBlank reports whether s shows nothing: only white space, invisible
// format characters (zero-width space, joiners, marks) and blank look-alikes.
func isBlank(s string) bool {
	return strings.IndexFunc(s, func(c rune) bool {
		return !unicode.IsSpace(c) && !unicode.Is(unicode.Cf, c) && !unicode.Is(unicode.Zs, c) &&
			c != '\u2800' && c != '\u3164' && c != '\u115f' && c != '\u1160' && c != '\uffa0'
	}) < 0
}

// clip shortens v for an error message.
func clip(v string) string {
	const n = 64
	if len(v) <= n {
		return v
	}
	for i := n; i > 0; i-- {
		if utf8.RuneStart(v[i]) {
			return v[:i] + "…"
		}
	}
	return ""
}
