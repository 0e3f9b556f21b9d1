package realtime

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sseWriter writes Server-Sent Events, flushing each and bounding each write.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     strings.Builder
}

func newSSEWriter(w http.ResponseWriter, timeout time.Duration) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (s *sseWriter) flush() error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	_, err := s.w.Write([]byte(s.buf.String()))
	s.buf.Reset()
	if err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *sseWriter) retry(d time.Duration) {
	s.buf.WriteString("retry: " + strconv.FormatInt(d.Milliseconds(), 10) + "\n\n")
}

// sseFrame is one event's bytes; data must be single-line JSON.
func sseFrame(id, name string, data []byte) []byte {
	b := make([]byte, 0, len(id)+len(name)+len(data)+24)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

// frame queues prebuilt event bytes.
func (s *sseWriter) frame(b []byte) { s.buf.Write(b) }

func (s *sseWriter) eventJSON(name string, v any) {
	b, _ := json.Marshal(v)
	s.buf.Write(sseFrame("", name, b))
}

func (s *sseWriter) comment(text string) { s.buf.WriteString(": " + text + "\n\n") }

// withSource adds "source": channel to a JSON object.
func withSource(data []byte, channel string) []byte {
	if len(data) < 2 || data[len(data)-1] != '}' {
		return data
	}
	src, _ := json.Marshal(channel)
	out := make([]byte, 0, len(data)+len(src)+12)
	out = append(out, data[:len(data)-1]...)
	if len(data) > 2 {
		out = append(out, ',')
	}
	out = append(out, `"source":`...)
	out = append(out, src...)
	return append(out, '}')
}
