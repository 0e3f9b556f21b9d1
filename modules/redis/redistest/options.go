package redistest

// Option configures a server started by [Start], [StartEmbedded],
// [StartSentinel] or [StartCluster].
type Option func(*options)

type options struct {
	password  string
	aclUser   string
	aclPass   string
	tls       *TLSFiles
	args      []string
	replicaOf *Server
	sentinels int
}

// WithPassword sets requirepass (the password of the default user). It is
// also used as masterauth, so replicas and sentinels can authenticate.
func WithPassword(pw string) Option {
	return func(o *options) { o.password = pw }
}

// WithACLUser adds an ACL user with full access
// ("user NAME on >PW ~* &* +@all"). Needs a real redis-server.
func WithACLUser(user, pw string) Option {
	return func(o *options) { o.aclUser, o.aclPass = user, pw }
}

// WithTLS serves TLS only: the free port becomes the tls-port and the
// plain-text port is disabled. Client certificates are required when
// files.RequireClientCert is set. Needs a real redis-server built with TLS.
func WithTLS(files *TLSFiles) Option {
	return func(o *options) { o.tls = files }
}

// WithArgs appends extra redis-server command-line arguments, for example
// WithArgs("--maxmemory", "10mb"). Needs a real redis-server.
func WithArgs(args ...string) Option {
	return func(o *options) { o.args = append(o.args, args...) }
}

// WithReplicaOf makes the server a replica of master (adding masterauth
// when master has a password). Start then also waits until the replication
// link is up. Needs a real redis-server.
func WithReplicaOf(master *Server) Option {
	return func(o *options) { o.replicaOf = master }
}

// WithSentinels sets how many sentinels [StartSentinel] runs (default 1).
// Other start functions ignore it.
func WithSentinels(n int) Option {
	return func(o *options) { o.sentinels = n }
}

func buildOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// realOnly names the first configured feature that an embedded miniredis
// cannot provide, or "" when there is none.
func (o *options) realOnly() string {
	switch {
	case o.tls != nil:
		return "TLS"
	case o.aclUser != "":
		return "an ACL user"
	case o.replicaOf != nil:
		return "replication"
	case len(o.args) > 0:
		return "extra redis-server arguments"
	}
	return ""
}
