package redis

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// CondRefused is the condition of a Manager whose Redis answers but refuses
// the configured settings (see ConfigError): wrong credentials, a user without
// the permissions redifx needs, a certificate that does not verify. It is not
// "unreachable": retrying does not help, fixing the setting does.
const CondRefused = "refused"

// ConfigError reports that Redis (or the TLS handshake with it) refused the
// configured settings. Start never falls back to the embedded server or starts
// degraded because of one: start-up fails, naming the setting, in every
// environment. Its text never holds a password.
type ConfigError struct {
	// Setting names the configuration key(s) to fix, such as
	// "redis.password" or "redis.tls.ca_file".
	Setting string
	// Problem says what was refused, in words.
	Problem string
	// Err is the error from Redis or from the TLS handshake.
	Err error
}

// Error implements error.
func (e *ConfigError) Error() string {
	return e.Setting + ": " + e.Problem + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// refused returns the *ConfigError that err means under cfg (client names the
// logical client whose connection failed, "" when unknown), or nil when err is
// no configuration problem (nil, unreachable, a transient server condition).
func (c *Config) refused(err error, client string) *ConfigError {
	if err == nil {
		return nil
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return ce
	}
	creds := "redis.password"
	switch {
	case c.URL != "":
		creds = "redis.url (its user and password)"
	case c.Username != "":
		creds = "redis.username / redis.password"
	}
	if s := c.tlsRefused(err); s != nil {
		return s
	}
	msg := err.Error()
	if c.Mode == ModeSentinel && strings.Contains(msg, "sentinels") {
		// go-redis reports a sentinel's own refusal as "all sentinels …
		// are unreachable: NOAUTH …": the sentinels' password is wrong.
		creds = "redis.sentinel_password"
	}
	switch {
	case goredis.IsAuthError(err) || goredis.HasErrorPrefix(err, "WRONGPASS") || strings.Contains(msg, "WRONGPASS"):
		return &ConfigError{Setting: creds, Problem: "Redis refused the credentials (wrong password, or unknown or disabled user)", Err: err}
	case goredis.HasErrorPrefix(err, "NOAUTH") || strings.Contains(msg, "NOAUTH"):
		return &ConfigError{Setting: creds, Problem: "Redis requires a password and none is configured", Err: err}
	case strings.Contains(msg, "without any password configured") || strings.Contains(msg, "no password is set"):
		return &ConfigError{Setting: creds, Problem: "a password is configured but Redis has none for this user", Err: err}
	case goredis.IsPermissionError(err) || strings.Contains(msg, "NOPERM"):
		user := "redis.username"
		if c.URL != "" {
			user = "redis.url (its user)"
		}
		return &ConfigError{Setting: user, Problem: "the Redis user lacks a permission redifx needs (see docs/operations.md for the ACL)", Err: err}
	case c.Mode == ModeSentinel && (errors.Is(err, goredis.Nil) || strings.HasSuffix(msg, goredis.Nil.Error())),
		strings.Contains(msg, "No such master with that name"):
		// The sentinels answered "no such master" (a nil address).
		return &ConfigError{Setting: "redis.master_name", Problem: "the sentinels know no master of this name", Err: err}
	case strings.Contains(msg, "DB index is out of range") || strings.Contains(msg, "SELECT is not allowed in cluster mode"):
		return &ConfigError{Setting: dbSetting(client), Problem: "Redis has no such database", Err: err}
	}
	if _, transient := Condition(err); transient {
		return nil
	}
	var re goredis.Error
	if errors.As(err, &re) {
		// Redis answered the connection's set-up (HELLO, AUTH, CLIENT
		// SETNAME, SELECT) with an error of its own: not a passing condition.
		return &ConfigError{Setting: creds + " / redis.mode", Problem: "Redis refused the connection's set-up", Err: err}
	}
	return nil
}

// tlsRefused recognises a failed certificate check.
func (c *Config) tlsRefused(err error) *ConfigError {
	var (
		unknown   x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		notTLS    tls.RecordHeaderError
		setupCert = "redis.tls.ca_file"
	)
	switch {
	case errors.As(err, &hostname):
		return &ConfigError{Setting: "redis.host / redis.tls", Problem: "the Redis server's certificate is not valid for the address redifx connects to", Err: err}
	case errors.As(err, &unknown), errors.As(err, &invalid), errors.As(err, &verify):
		return &ConfigError{Setting: setupCert, Problem: "the Redis server's certificate does not verify against the configured CA", Err: err}
	case errors.As(err, &alert):
		return &ConfigError{Setting: "redis.tls.cert_file / redis.tls.key_file", Problem: "the Redis server refused the TLS handshake (it may require a client certificate)", Err: err}
	case errors.As(err, &notTLS):
		return &ConfigError{Setting: "redis.tls.enabled", Problem: "TLS is on but the Redis server does not speak TLS on this port", Err: err}
	}
	// A TLS alert arrives as a plain error from some paths.
	if msg := err.Error(); strings.Contains(msg, "remote error: tls:") {
		return &ConfigError{Setting: "redis.tls.cert_file / redis.tls.key_file", Problem: "the Redis server refused the TLS handshake (it may require a client certificate)", Err: err}
	}
	return nil
}

func dbSetting(client string) string {
	switch client {
	case ClientCache:
		return "redis.cache_db"
	case ClientSession:
		return "redis.session_db"
	case ClientPubSub:
		return "redis.pubsub_db"
	}
	return "redis.db"
}

// tlsMismatch tells, after a standalone start-up attempt failed without an
// answer that explains it, whether the server speaks the other protocol on
// this port: plain RESP while TLS is on (a TLS handshake then just waits for
// a reply Redis never sends), or TLS while it is off (Redis drops the plain
// connection). Either is a configuration error, never "unreachable", so it
// must not lead to the embedded fallback or a degraded start.
func (m *Manager) tlsMismatch(ctx context.Context) *ConfigError {
	if m.cfg.Mode != ModeStandalone || m.addr == "" || m.embeddedAddr.Load() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, min(m.cfg.SocketConnectTimeout, time.Second))
	defer cancel()
	conn, err := m.dialer.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return nil // nothing listens, or the network is down: unreachable indeed
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if m.tls != nil {
		// Does the port answer a plain PING?
		if _, err := conn.Write([]byte("PING\r\n")); err != nil {
			return nil
		}
		buf := make([]byte, 1)
		if _, err := io.ReadFull(conn, buf); err != nil || (buf[0] != '+' && buf[0] != '-') {
			return nil
		}
		setting := "redis.tls.enabled"
		if m.cfg.URL != "" {
			setting = "redis.url (rediss://)"
		}
		return &ConfigError{Setting: setting, Problem: "TLS is on but the Redis server does not speak TLS on this port",
			Err: errors.New("the server answered a plain-text PING")}
	}
	// TLS off: does the port complete a TLS handshake? Only the handshake is
	// tried (no certificate check: nothing is sent over it).
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // detection only, no data sent
	if err := tc.HandshakeContext(ctx); err != nil {
		var alert tls.AlertError
		if !errors.As(err, &alert) && !strings.Contains(err.Error(), "remote error: tls:") {
			return nil
		}
	}
	setting := "redis.tls.enabled"
	if m.cfg.URL != "" {
		setting = "redis.url (redis:// where rediss:// is needed)"
	}
	return &ConfigError{Setting: setting, Problem: "the Redis server speaks TLS on this port but TLS is off",
		Err: errors.New("the server completed a TLS handshake")}
}
