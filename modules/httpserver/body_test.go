package httpserver_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/httpserver"
)

// echoRoutes are the routes of the body tests: /echo binds a JSON object,
// /ignore answers without reading the body, /slow reads the body and then
// streams for a while, /stream takes the connection over as an event stream
// does.
func echoRoutes() []httpserver.Route {
	return []httpserver.Route{httpserver.RouteFunc(func(r gin.IRouter) {
		r.POST("/echo", func(c *gin.Context) {
			var v map[string]any
			if httpserver.BindJSON(c, &v) {
				c.JSON(http.StatusOK, v)
			}
		})
		r.POST("/ignore", func(c *gin.Context) { c.String(http.StatusOK, "ignored") })
		r.POST("/slow", func(c *gin.Context) {
			b, err := io.ReadAll(c.Request.Body)
			if err != nil {
				c.String(http.StatusBadRequest, err.Error())
				return
			}
			c.Status(http.StatusOK)
			// Longer than the read timeout after the body: the request's
			// context must stay alive and the writes must go through.
			for i := range 8 {
				if c.Request.Context().Err() != nil {
					return
				}
				fmt.Fprintf(c.Writer, "tick %d %d\n", i, len(b))
				c.Writer.Flush()
				time.Sleep(100 * time.Millisecond)
			}
			fmt.Fprintln(c.Writer, "done")
		})
		r.GET("/stream", func(c *gin.Context) {
			conn, rw, err := c.Writer.Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
			_ = rw.Flush()
			gone := make(chan struct{})
			go func() {
				var b [1]byte
				_, _ = conn.Read(b[:]) // returns when the client goes (or a deadline hits)
				close(gone)
			}()
			for i := 0; ; i++ {
				select {
				case <-gone:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if _, err := fmt.Fprintf(rw, "data: %d\n\n", i); err != nil || rw.Flush() != nil {
					return
				}
			}
		})
	})}
}

// rawConn is an HTTP/1.1 client on one TCP connection, writing bytes as the
// test says.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, base string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) write(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// response reads one response, waiting at most within.
func (r *rawConn) response(within time.Duration) (*http.Response, string, error) {
	return r.responseTo(http.MethodGet, within)
}

// responseTo reads the final response to a request of method (after any 1xx),
// waiting at most within.
func (r *rawConn) responseTo(method string, within time.Duration) (*http.Response, string, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(r.br, &http.Request{Method: method})
	for err == nil && resp.StatusCode/100 == 1 {
		resp, err = http.ReadResponse(r.br, &http.Request{Method: method})
	}
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// closed reports whether the server closed the connection within d (a read
// returns EOF or a reset rather than timing out).
func (r *rawConn) closed(d time.Duration) bool {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	_, err := r.br.ReadByte()
	var ne net.Error
	return err != nil && !(errorAs(err, &ne) && ne.Timeout())
}

func errorAs(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

func post(path, body string, contentLength int, extra ...string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s",
		path, contentLength, strings.Join(extra, ""), body)
}

// A body announced but never sent is cut off at http.read_timeout, whether
// the handler reads it (408), ignores it, or is never reached (413, 404): the
// connection is not held.
func TestStalledBodyIsCutAtTheReadTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTimeout = 500 * time.Millisecond
	cfg.MaxBodyBytes = 2000
	f := start(t, cfg, echoRoutes())

	t.Run("read by the handler", func(t *testing.T) {
		c := dial(t, f.base)
		begin := time.Now()
		c.write(post("/echo", `{"a":`, 1000))
		resp, body, err := c.response(10 * time.Second)
		if err != nil {
			t.Fatalf("no answer within 10s: %v", err)
		}
		var e map[string]any
		_ = json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != http.StatusRequestTimeout || e["error"] != "request_timeout" {
			t.Errorf("%d %s", resp.StatusCode, body)
		}
		if took := time.Since(begin); took < cfg.ReadTimeout {
			t.Errorf("answered after %s, before the read timeout", took)
		}
		if !c.closed(5 * time.Second) {
			t.Error("connection still open after the 408")
		}
	})
	for _, tc := range []struct{ name, req string }{
		{"ignored by the handler", post("/ignore", `{"a":`, 1000)},
		{"no route", post("/nowhere", `{`, 1000)},
		{"declared over the limit", post("/echo", `{`, 1_000_000)},
		{"chunked", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, f.base)
			begin := time.Now()
			c.write(tc.req)
			// An answer may come first; either way the connection must close.
			_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, c.br); err != nil {
				var ne net.Error
				if errorAs(err, &ne) && ne.Timeout() {
					t.Fatalf("connection held for 10s (read timeout %s)", cfg.ReadTimeout)
				}
			}
			if took := time.Since(begin); took > 5*time.Second {
				t.Errorf("closed after %s", took)
			}
		})
	}
}

// A body that arrives slowly but in time is read whole; a handler that runs
// on after its body, for longer than the read timeout, keeps its context and
// its connection.
func TestSlowBodyWithinTheReadTimeoutAndLongHandlerAfterIt(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTimeout = 2 * time.Second
	f := start(t, cfg, echoRoutes())

	c := dial(t, f.base)
	body := `{"greeting":"hello, slowly"}`
	c.write(post("/echo", "", len(body)))
	for i := 0; i < len(body); i += 7 {
		time.Sleep(100 * time.Millisecond)
		c.write(body[i:min(i+7, len(body))])
	}
	resp, got, err := c.response(10 * time.Second)
	if err != nil || resp.StatusCode != 200 || !strings.Contains(got, "hello, slowly") {
		t.Fatalf("slow body: %v %v %s", err, resp, got)
	}

	cfg.ReadTimeout = 200 * time.Millisecond
	f = start(t, cfg, echoRoutes())
	c = dial(t, f.base)
	c.write(post("/slow", "abc", 3))
	resp, got, err = c.response(10 * time.Second)
	if err != nil || resp.StatusCode != 200 || !strings.HasSuffix(got, "done\n") {
		t.Fatalf("a handler running past the read timeout after its body: %v %v %q", err, resp, got)
	}
	// The connection is still good for the next request.
	c.write(post("/echo", `{"k":1}`, 7))
	if resp, got, err := c.response(10 * time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("next request on the connection: %v %v %s", err, resp, got)
	}
}

// A stream (a connection taken over by its handler) lives far beyond the read
// timeout: the deadline is for bodies only, also when the stream's request
// carried one.
func TestStreamOutlivesTheReadTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTimeout = 200 * time.Millisecond
	f := start(t, cfg, echoRoutes())
	for _, req := range []string{
		"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
	} {
		c := dial(t, f.base)
		c.write(req)
		_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		begin := time.Now()
		events := 0
		for time.Since(begin) < 5*cfg.ReadTimeout {
			line, err := c.br.ReadString('\n')
			if err != nil {
				t.Fatalf("%q: stream ended after %s and %d events: %v", req, time.Since(begin), events, err)
			}
			if strings.HasPrefix(line, "data: ") {
				events++
			}
		}
		if events < 5 {
			t.Errorf("%q: %d events in %s", req, events, time.Since(begin))
		}
		_ = c.c.Close()
	}
}

// http.read_timeout must be positive; the problem names the key.
func TestReadTimeoutIsValidated(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		cfg := httpserver.DefaultConfig()
		cfg.ReadTimeout = d
		var fe *config.FieldError
		if err := cfg.Validate(config.Development); !errors.As(err, &fe) || fe.Key != "read_timeout" {
			t.Errorf("read_timeout %s: %v", d, err)
		}
	}
	if d := httpserver.DefaultConfig().ReadTimeout; d != 30*time.Second {
		t.Errorf("default %s", d)
	}
}
