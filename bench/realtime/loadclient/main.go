// Command loadclient opens many Server-Sent Events streams against a realtime
// server (redifx or the perconn baseline) and measures publish-to-receive
// latency at every client of one tenant.
//
// Each stream is a raw TCP connection carrying one HTTP/1.1 request; the
// response is read with http.ReadResponse (which undoes the chunked encoding)
// and a small line reader, so that a client costs little memory and the load
// client can hold 10,000 streams beside the server on a small machine.
//
// Tenants are "bench-t000" … ; the first one ("hot") gets -hot clients and the
// rest are spread evenly over the other tenants. Every client waits for
// "event: connected" before it counts as connected.
//
// Once connected it prints one JSON line ("phase":"connected") and then either
// runs -rounds latency rounds and exits, or (-control) reads commands from
// stdin, one a line:
//
//	publish   one latency round: -events events to the hot tenant, -interval
//	          apart, each carrying its send time (unix nanoseconds) in
//	          "message"; prints a "phase":"latency" line
//	stats     prints a "phase":"stats" line (open streams, closed ones and why)
//	quit      prints the latency of every round pooled ("phase":"summary") and exits
//
// Every result is one JSON object a line on stdout; progress goes to stderr.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redifx/redifx/modules/auth"
	"github.com/redifx/redifx/modules/config"
)

type options struct {
	base        *url.URL
	secret      string
	clients     int
	tenants     int
	hot         int
	channel     string
	events      int
	interval    time.Duration
	rounds      int
	control     bool
	concurrency int
	label       string
	timeout     time.Duration
}

func main() {
	var o options
	var base string
	flag.StringVar(&base, "url", "http://127.0.0.1:8080", "base URL of the server")
	flag.StringVar(&o.secret, "secret", "", "HS256 secret the server verifies tokens with (required)")
	flag.IntVar(&o.clients, "clients", 1000, "number of SSE streams")
	flag.IntVar(&o.tenants, "tenants", 1, "number of tenants")
	flag.IntVar(&o.hot, "hot", 0, "clients of the first (hot) tenant; 0 spreads every client evenly")
	flag.StringVar(&o.channel, "channel", "alerts", "channel to stream and publish to")
	flag.IntVar(&o.events, "events", 50, "events published per latency round")
	flag.DurationVar(&o.interval, "interval", 20*time.Millisecond, "spacing of published events")
	flag.IntVar(&o.rounds, "rounds", 1, "latency rounds to run without -control (0: connect only)")
	flag.BoolVar(&o.control, "control", false, "read commands (publish, stats, quit) from stdin")
	flag.IntVar(&o.concurrency, "concurrency", 50, "streams being opened at once")
	flag.StringVar(&o.label, "label", "", "label copied into every output line")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "limit on opening every stream")
	flag.Parse()

	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		fatalf("bad -url %q", base)
	}
	o.base = u
	switch {
	case o.secret == "":
		fatalf("-secret is required")
	case o.clients < 1 || o.tenants < 1 || o.tenants > o.clients:
		fatalf("need 1 <= -tenants <= -clients")
	case o.hot < 0 || o.hot > o.clients || o.tenants == 1 && o.hot != 0 && o.hot != o.clients:
		fatalf("-hot must be between 0 and -clients (and -clients with one tenant)")
	case o.events < 1 || o.concurrency < 1:
		fatalf("-events and -concurrency must be positive")
	}
	if o.tenants > 1 && o.hot > 0 && o.clients-o.hot < o.tenants-1 {
		fatalf("%d clients cannot cover %d other tenants", o.clients-o.hot, o.tenants-1)
	}
	if err := run(o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadclient: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadclient: "+format+"\n", args...)
}

var out = json.NewEncoder(os.Stdout)

func emit(o options, fields map[string]any) {
	if o.label != "" {
		fields["label"] = o.label
	}
	_ = out.Encode(fields)
}

func tenantName(i int) string { return fmt.Sprintf("bench-t%03d", i) }

// tenantOf returns the tenant index of client i.
func tenantOf(o options, i int) int {
	if o.tenants == 1 {
		return 0
	}
	if o.hot == 0 {
		return i % o.tenants
	}
	if i < o.hot {
		return 0
	}
	return 1 + (i-o.hot)%(o.tenants-1)
}

// sample is one event received by a hot client.
type sample struct {
	round, seq int32
	lat        time.Duration
}

// client is one stream.
type client struct {
	tenant int
	hot    bool

	mu      sync.Mutex
	samples []sample
}

type bench struct {
	o      options
	tokens []string
	req    [][]byte // the request of each tenant's stream

	open        atomic.Int64
	closed      atomic.Int64
	foreign     atomic.Int64 // events at clients outside the hot tenant
	heartbeats  atomic.Int64
	received    atomic.Int64 // events at hot clients
	reasonsMu   sync.Mutex
	closeReason map[string]int
}

func (b *bench) closedBecause(reason string) {
	b.open.Add(-1)
	b.closed.Add(1)
	b.reasonsMu.Lock()
	b.closeReason[reason]++
	b.reasonsMu.Unlock()
}

func run(o options) error {
	b := &bench{o: o, closeReason: map[string]int{}}
	host := o.base.Host
	path := strings.TrimSuffix(o.base.Path, "/") + "/api/v1/realtime/" + o.channel
	for t := range o.tenants {
		tok, err := auth.Mint(auth.Config{JWTSecret: o.secret}, config.Test, auth.TokenRequest{
			Subject: "bench", TenantID: tenantName(t),
			Permissions: []string{"realtime.read", "realtime.publish"}, TTL: time.Hour,
		})
		if err != nil {
			return fmt.Errorf("minting a token: %w", err)
		}
		b.tokens = append(b.tokens, tok)
		b.req = append(b.req, []byte("GET "+path+" HTTP/1.1\r\nHost: "+host+
			"\r\nAuthorization: Bearer "+tok+"\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"))
	}

	clients := make([]*client, o.clients)
	hotCount := 0
	for i := range clients {
		t := tenantOf(o, i)
		clients[i] = &client{tenant: t, hot: t == 0}
		if t == 0 {
			hotCount++
		}
	}

	// Open the streams, o.concurrency at a time.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	var failedMu sync.Mutex
	failures := map[string]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.concurrency)
	var connected atomic.Int64
	for i, c := range clients {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			failedMu.Lock()
			failures["timeout before dialing"] += len(clients) - i
			failedMu.Unlock()
			break
		}
		wg.Add(1)
		go func() {
			ready := make(chan error, 1)
			go b.stream(ctx, c, ready)
			err := <-ready
			<-sem
			if err != nil {
				failedMu.Lock()
				failures[err.Error()]++
				failedMu.Unlock()
			} else if n := connected.Add(1); n%2000 == 0 {
				logf("%s %d/%d streams open (%.1fs)", o.label, n, len(clients), time.Since(start).Seconds())
			}
			wg.Done()
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	failed := 0
	for _, n := range failures {
		failed += n
	}
	emit(o, map[string]any{
		"phase": "connected", "clients": o.clients, "connected": connected.Load(), "failed": failed,
		"failures": failures, "tenants": o.tenants, "hot_tenant": tenantName(0), "hot_clients": hotCount,
		"seconds": round3(secs), "concurrency": o.concurrency,
	})
	logf("%s %d streams open, %d failed, in %.1fs", o.label, connected.Load(), failed, secs)

	pub := &publisher{b: b, hot: hotCount, hc: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 2, DisableCompression: true}}}
	pubURL := o.base.JoinPath("api/v1/realtime", o.channel).String()
	pub.url = pubURL

	if !o.control {
		for range o.rounds {
			pub.round(clients)
		}
		pub.summary()
		return nil
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch cmd := strings.TrimSpace(sc.Text()); cmd {
		case "publish":
			pub.round(clients)
		case "stats":
			b.stats()
		case "quit":
			pub.summary()
			return nil
		case "":
		default:
			emit(o, map[string]any{"phase": "error", "error": "unknown command " + strconv.Quote(cmd)})
		}
	}
	pub.summary()
	return sc.Err()
}

func (b *bench) stats() {
	b.reasonsMu.Lock()
	reasons := make(map[string]int, len(b.closeReason))
	for k, v := range b.closeReason {
		reasons[k] = v
	}
	b.reasonsMu.Unlock()
	emit(b.o, map[string]any{
		"phase": "stats", "open": b.open.Load(), "closed": b.closed.Load(), "close_reasons": reasons,
		"heartbeats": b.heartbeats.Load(), "foreign_events": b.foreign.Load(),
	})
}

// stream opens one stream, reports on ready once "event: connected" arrived
// (or why not), then reads it until it ends.
func (b *bench) stream(ctx context.Context, c *client, ready chan<- error) {
	var conn net.Conn
	var err error
	d := net.Dialer{Timeout: 10 * time.Second}
	for attempt := 0; ; attempt++ {
		conn, err = d.DialContext(ctx, "tcp", b.o.base.Host)
		if err == nil || attempt == 4 || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
	}
	if err != nil {
		ready <- fmt.Errorf("dial: %s", shortErr(err))
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(b.req[c.tenant]); err != nil {
		ready <- fmt.Errorf("write: %s", shortErr(err))
		return
	}
	br := bufio.NewReaderSize(conn, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		ready <- fmt.Errorf("response: %s", shortErr(err))
		return
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		ready <- fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
		return
	}
	lines := bufio.NewReaderSize(resp.Body, 1024)
	isConnected := false
	for !isConnected {
		line, err := lines.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			ready <- fmt.Errorf("before connected: %s", shortErr(err))
			return
		}
		isConnected = bytes.Equal(bytes.TrimSpace(line), []byte("event: connected"))
	}
	_ = conn.SetDeadline(time.Time{})
	b.open.Add(1)
	ready <- nil

	reason := "eof"
	var event []byte // name of the event being read
	for {
		line, err := lines.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: skip the rest of it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = lines.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				reason = shortErr(err)
			}
			break
		}
		now := time.Now()
		switch {
		case bytes.HasPrefix(line, []byte("data:")):
			if string(event) == "shutdown" || string(event) == "slow_client" || string(event) == "token_expired" {
				reason = "event: " + string(event)
			}
			b.onData(c, line, now)
		case bytes.HasPrefix(line, []byte("event:")):
			event = append(event[:0], bytes.TrimSpace(line[len("event:"):])...)
		case bytes.HasPrefix(line, []byte(":")):
			b.heartbeats.Add(1)
		}
	}
	b.closedBecause(reason)
}

var (
	keyMessage = []byte(`"message":"`)
	keyAlertID = []byte(`"alert_id":"`)
)

// onData handles one data line received at now.
func (b *bench) onData(c *client, line []byte, now time.Time) {
	i := bytes.Index(line, keyMessage)
	if i < 0 {
		return
	}
	if !c.hot {
		b.foreign.Add(1)
		return
	}
	sent, ok := parseInt(line[i+len(keyMessage):])
	if !ok {
		return
	}
	// alert_id is "bench-r<round>-<seq>".
	var rnd, seq int64 = -1, -1
	if j := bytes.Index(line, keyAlertID); j >= 0 {
		id := line[j+len(keyAlertID):]
		if k := bytes.Index(id, []byte("bench-r")); k == 0 {
			id = id[len("bench-r"):]
			rnd, _ = parseInt(id)
			if k := bytes.IndexByte(id, '-'); k >= 0 {
				seq, _ = parseInt(id[k+1:])
			}
		}
	}
	lat := now.Sub(time.Unix(0, sent))
	c.mu.Lock()
	c.samples = append(c.samples, sample{round: int32(rnd), seq: int32(seq), lat: lat})
	c.mu.Unlock()
	b.received.Add(1)
}

// parseInt reads the decimal digits at the start of s.
func parseInt(s []byte) (int64, bool) {
	var n int64
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n, i > 0
}

func shortErr(err error) string {
	s := err.Error()
	// Drop addresses so that equal causes group together.
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s[:i], "127.0.0.1") {
		s = s[i+2:]
	}
	return s
}

type publisher struct {
	b      *bench
	hc     *http.Client
	url    string
	hot    int
	rounds int
	all    []time.Duration // every round's latencies, pooled
	missed int
}

// round publishes o.events events to the hot tenant and gathers their
// latencies at every hot client.
func (p *publisher) round(clients []*client) {
	o := p.b.o
	p.rounds++
	r := p.rounds
	before := p.b.received.Load()
	var pubLat []time.Duration
	pubErrors := map[string]int{}
	ticker := time.NewTicker(o.interval)
	start := time.Now()
	for seq := range o.events {
		if seq > 0 {
			<-ticker.C
		}
		sent := time.Now()
		body := fmt.Sprintf(`{"event_type":"alert.raised","alert_id":"bench-r%d-%d","severity":"critical","message":"%d"}`,
			r, seq, sent.UnixNano())
		req, _ := http.NewRequest(http.MethodPost, p.url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+p.b.tokens[0])
		req.Header.Set("Content-Type", "application/json")
		resp, err := p.hc.Do(req)
		if err != nil {
			pubErrors[shortErr(err)]++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			pubErrors["status "+strconv.Itoa(resp.StatusCode)]++
			continue
		}
		pubLat = append(pubLat, time.Since(sent))
	}
	ticker.Stop()
	pubSecs := time.Since(start).Seconds()
	// Wait for every delivery (or give up after 10s without progress).
	want := int64(len(pubLat) * p.hot)
	last, lastChange := p.b.received.Load(), time.Now()
	for p.b.received.Load()-before < want && time.Since(lastChange) < 10*time.Second {
		time.Sleep(20 * time.Millisecond)
		if n := p.b.received.Load(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	time.Sleep(100 * time.Millisecond) // let duplicates, if any, arrive

	var lats []time.Duration
	dups := 0
	for _, c := range clients {
		if !c.hot {
			continue
		}
		seen := make([]bool, o.events)
		c.mu.Lock()
		for _, s := range c.samples {
			if int(s.round) != r {
				continue
			}
			if s.seq >= 0 && int(s.seq) < len(seen) {
				if seen[s.seq] {
					dups++
					continue
				}
				seen[s.seq] = true
			}
			lats = append(lats, s.lat)
		}
		c.samples = c.samples[:0]
		c.mu.Unlock()
	}
	missing := int(want) - len(lats)
	p.all = append(p.all, lats...)
	p.missed += missing
	fields := latencyFields(lats)
	fields["phase"] = "latency"
	fields["round"] = r
	fields["events"] = o.events
	fields["published"] = len(pubLat)
	fields["publish_errors"] = pubErrors
	fields["receivers"] = p.hot
	fields["missing"] = missing
	fields["duplicates"] = dups
	fields["open"] = p.b.open.Load()
	fields["publish_seconds"] = round3(pubSecs)
	pl := percentiles(pubLat)
	fields["publish_p50_ms"], fields["publish_p99_ms"] = pl[0], pl[1]
	emit(o, fields)
}

func (p *publisher) summary() {
	fields := latencyFields(p.all)
	fields["phase"] = "summary"
	fields["rounds"] = p.rounds
	fields["receivers"] = p.hot
	fields["missing"] = p.missed
	fields["open"] = p.b.open.Load()
	fields["closed"] = p.b.closed.Load()
	fields["foreign_events"] = p.b.foreign.Load()
	emit(p.b.o, fields)
}

func latencyFields(lats []time.Duration) map[string]any {
	ps := percentiles(lats)
	return map[string]any{"samples": len(lats), "p50_ms": ps[0], "p99_ms": ps[1], "p90_ms": ps[2], "max_ms": ps[3]}
}

// percentiles returns p50, p99, p90 and max in milliseconds (nearest rank),
// or zeros when there are no samples.
func percentiles(d []time.Duration) [4]float64 {
	if len(d) == 0 {
		return [4]float64{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return round3(float64(s[i]) / float64(time.Millisecond))
	}
	return [4]float64{at(0.50), at(0.99), at(0.90), at(1)}
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
