// Command perconn is the baseline of the realtime benchmark: the
// per-connection-subscription design that redifx's realtime module replaces.
// Every SSE connection opens its own Redis pub/sub connection and SUBSCRIBEs
// to its tenant's channel; a publish is a plain PUBLISH.
//
// It is deliberately bare: gin without middleware, go-redis with its default
// options, no token verification (the tenant is read from the JWT payload
// unchecked), no heartbeat, no history, no limits. The URL shapes are
// redifx's:
//
//	GET  /api/v1/realtime/{channel}   SSE ("event: connected" once subscribed)
//	POST /api/v1/realtime/{channel}   202 {"id"}: PUBLISH to the caller's tenant
//	GET  /health                      200
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	goredis "github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	redisURL := flag.String("redis", "redis://127.0.0.1:6379/0", "Redis URL")
	flag.Parse()

	opts, err := goredis.ParseURL(*redisURL)
	if err != nil {
		log.Fatalf("perconn: %v", err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		log.Fatalf("perconn: redis: %v", err)
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	s := &server{rdb: rdb}
	r.GET("/health", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "healthy"}) })
	r.GET("/api/v1/realtime/:channel", s.stream)
	r.POST("/api/v1/realtime/:channel", s.publish)

	srv := &http.Server{Addr: *addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("perconn: %v", err)
	}
}

type server struct {
	rdb *goredis.Client
	ids atomic.Uint64
}

// tenantOf reads tenant_id from the bearer token's payload without verifying
// the token.
func tenantOf(c *gin.Context) (string, bool) {
	tok, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok {
		return "", false
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var claims struct {
		TenantID string `json:"tenant_id"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.TenantID == "" {
		return "", false
	}
	return claims.TenantID, true
}

func topic(tenant, channel string) string { return "perconn:" + tenant + ":" + channel }

func (s *server) stream(c *gin.Context) {
	tenant, ok := tenantOf(c)
	if !ok {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthorized"})
		return
	}
	ctx := c.Request.Context()
	sub := s.rdb.Subscribe(ctx, topic(tenant, c.Param("channel")))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
		return
	}
	msgs := sub.Channel()

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	c.Status(http.StatusOK)
	fmt.Fprint(c.Writer, "retry: 3000\n\nevent: connected\ndata: {}\n\n")
	c.Writer.Flush()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			// The payload is "<event type>\n<JSON>".
			typ, data, _ := strings.Cut(m.Payload, "\n")
			if _, err := fmt.Fprintf(c.Writer, "event: %s\ndata: %s\n\n", typ, data); err != nil {
				return
			}
			c.Writer.Flush()
		}
	}
}

func (s *server) publish(c *gin.Context) {
	tenant, ok := tenantOf(c)
	if !ok {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthorized"})
		return
	}
	var ev map[string]any
	if err := c.ShouldBindJSON(&ev); err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "bad json"})
		return
	}
	typ, _ := ev["event_type"].(string)
	if typ == "" {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": "event_type is required"})
		return
	}
	ev["tenant_id"] = tenant
	ev["timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	data, _ := json.Marshal(ev)
	var payload bytes.Buffer
	payload.WriteString(typ)
	payload.WriteByte('\n')
	payload.Write(data)
	if err := s.rdb.Publish(c.Request.Context(), topic(tenant, c.Param("channel")), payload.Bytes()).Err(); err != nil {
		c.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "unavailable"})
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": strconv.FormatUint(s.ids.Add(1), 10)})
}
