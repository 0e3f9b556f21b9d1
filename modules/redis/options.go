package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// parseURL parses c.URL. Its errors never contain the URL (which may hold a
// password): net/url's own errors quote it whole.
func (c *Config) parseURL() (*goredis.Options, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var esc url.EscapeError
		if errors.As(err, &esc) {
			// The bad escape may sit in the password: do not quote it.
			return nil, errors.New("not a valid URL: a %-escape is not two hexadecimal digits (write a literal % as %25)")
		}
		return nil, fmt.Errorf("not a valid URL: %v", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("scheme must be redis:// or rediss://, got %q", u.Scheme)
	}
	for _, o := range overriddenURLOptions {
		if u.Query().Has(o.option) {
			return nil, fmt.Errorf("the option %s is set by %s, not in the URL", o.option, o.key)
		}
	}
	opt, err := goredis.ParseURL(c.URL)
	if err != nil {
		return nil, fmt.Errorf("not a valid Redis URL: %s", scrubURLError(err.Error(), u))
	}
	if opt.DB < 0 {
		return nil, fmt.Errorf("the database number must not be negative, got %d", opt.DB)
	}
	if !validHostPort(opt.Addr) {
		return nil, fmt.Errorf("%q is not host:port with a port between 1 and 65535", opt.Addr)
	}
	return opt, nil
}

// overriddenURLOptions are the URL query options that redifx sets from its
// own keys: in the URL they would be silently replaced, so they are refused.
var overriddenURLOptions = []struct{ option, key string }{
	{"pool_size", "redis.max_connections"},
	{"min_idle_conns", "redis.min_idle_connections"},
	{"dial_timeout", "redis.socket_connect_timeout"},
	{"read_timeout", "redis.socket_timeout"},
	{"write_timeout", "redis.socket_timeout"},
}

// scrubURLError removes the URL's password from a message, in case a library
// quoted it.
func scrubURLError(msg string, u *url.URL) string {
	if pw, ok := u.User.Password(); ok && pw != "" {
		return strings.ReplaceAll(msg, pw, "***")
	}
	return msg
}

// tlsConfig builds the client TLS configuration, or nil when TLS is off.
func (c *Config) tlsConfig(urlTLS bool) (*tls.Config, error) {
	if !c.TLS.Enabled && !urlTLS {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.TLS.InsecureSkipVerify} //nolint:gosec // opt-in, refused in production
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redis.tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis.tls.ca_file: no PEM certificate in %s", c.TLS.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("redis.tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// clientOptions is what every client of one Manager shares.
type clientOptions struct {
	standalone *goredis.Options // standalone mode: a template, DB set per client
	failover   *goredis.FailoverOptions
	cluster    *goredis.ClusterOptions
}

func (c *Config) clientOptions() (clientOptions, error) {
	switch c.Mode {
	case ModeSentinel:
		tc, err := c.tlsConfig(false)
		if err != nil {
			return clientOptions{}, err
		}
		return clientOptions{failover: &goredis.FailoverOptions{
			MasterName:       c.MasterName,
			SentinelAddrs:    c.Addrs,
			SentinelPassword: c.SentinelPassword,
			Username:         c.Username,
			Password:         c.Password,
			DB:               c.DB,
			PoolSize:         c.MaxConnections,
			MinIdleConns:     c.MinIdleConnections,
			DialTimeout:      c.SocketConnectTimeout,
			ReadTimeout:      c.SocketTimeout,
			WriteTimeout:     c.SocketTimeout,
			TLSConfig:        tc,
		}}, nil
	case ModeCluster:
		tc, err := c.tlsConfig(false)
		if err != nil {
			return clientOptions{}, err
		}
		return clientOptions{cluster: &goredis.ClusterOptions{
			Addrs:        c.Addrs,
			Username:     c.Username,
			Password:     c.Password,
			PoolSize:     c.MaxConnections,
			MinIdleConns: c.MinIdleConnections,
			DialTimeout:  c.SocketConnectTimeout,
			ReadTimeout:  c.SocketTimeout,
			WriteTimeout: c.SocketTimeout,
			TLSConfig:    tc,
		}}, nil
	}
	opt := &goredis.Options{
		Addr:     c.Addr(),
		Username: c.Username,
		Password: c.Password,
		DB:       c.DB,
	}
	urlTLS := false
	if c.URL != "" {
		parsed, err := c.parseURL()
		if err != nil {
			return clientOptions{}, fmt.Errorf("redis.url: %w", err)
		}
		opt = parsed
		urlTLS = parsed.TLSConfig != nil
	}
	tc, err := c.tlsConfig(urlTLS)
	if err != nil {
		return clientOptions{}, err
	}
	if tc != nil && opt.TLSConfig != nil && c.URL != "" {
		tc.InsecureSkipVerify = tc.InsecureSkipVerify || opt.TLSConfig.InsecureSkipVerify
	}
	opt.TLSConfig = tc
	opt.PoolSize = c.MaxConnections
	opt.MinIdleConns = c.MinIdleConnections
	opt.DialTimeout = c.SocketConnectTimeout
	opt.ReadTimeout = c.SocketTimeout
	opt.WriteTimeout = c.SocketTimeout
	return clientOptions{standalone: opt}, nil
}
