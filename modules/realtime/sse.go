package realtime

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"
)

// sseWriter writes Server-Sent Events to a connection taken over from the
// HTTP server, each flush bounded by a write deadline.
type sseWriter struct {
	conn    net.Conn
	timeout time.Duration
	buf     []byte
}

func newSSEWriter(conn net.Conn, timeout time.Duration) *sseWriter {
	return &sseWriter{conn: conn, timeout: timeout}
}

func (s *sseWriter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	_, err := s.conn.Write(s.buf)
	if cap(s.buf) > 64<<10 {
		s.buf = nil // do not keep a large buffer for an idle client
	} else {
		s.buf = s.buf[:0]
	}
	return err
}

// head queues the HTTP response head: the stream is delimited by closing the
// connection, so it needs neither a length nor chunking.
func (s *sseWriter) head(h http.Header) {
	s.buf = append(s.buf, "HTTP/1.1 200 OK\r\n"...)
	for k, vs := range h {
		for _, v := range vs {
			s.buf = append(s.buf, k...)
			s.buf = append(s.buf, ": "...)
			s.buf = append(s.buf, v...)
			s.buf = append(s.buf, "\r\n"...)
		}
	}
	s.buf = append(s.buf, "\r\n"...)
}

func (s *sseWriter) retry(d time.Duration) {
	s.buf = append(s.buf, "retry: "+strconv.FormatInt(d.Milliseconds(), 10)+"\n\n"...)
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
func (s *sseWriter) frame(b []byte) { s.buf = append(s.buf, b...) }

func (s *sseWriter) eventJSON(name string, v any) {
	b, _ := json.Marshal(v)
	s.buf = append(s.buf, sseFrame("", name, b)...)
}

func (s *sseWriter) comment(text string) { s.buf = append(s.buf, ": "+text+"\n\n"...) }

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
