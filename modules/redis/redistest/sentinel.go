package redistest

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
)

// sentinelConfig is what a sentinel process monitors.
type sentinelConfig struct {
	name     string
	master   *Server
	quorum   int
	peers    int // number of other sentinels
	authPass string
}

// Sentinel is a Redis Sentinel deployment: one master, one replica and one
// or more sentinels monitoring the master (down-after-milliseconds 1000,
// failover-timeout 2000, parallel-syncs 1). After a failover the roles of
// Master and Replica are swapped in Redis, not in these fields.
type Sentinel struct {
	Master     *Server   // initial master
	Replica    *Server   // initial replica of Master
	MasterName string    // name the sentinels monitor the master under
	Sentinels  []*Server // sentinel processes (Client talks to the sentinel itself)
}

// StartSentinel starts a master, a replica and the sentinels (see
// [WithSentinels]; default 1) and waits until every sentinel reports the
// master address, knows the replica and all other sentinels, and can reach
// its quorum. opts apply
// to master and replica; with [WithPassword] the sentinels get auth-pass,
// with [WithTLS] the sentinels also serve and connect over TLS.
// Skips or fails like [RequireReal] without redis-server.
func StartSentinel(t testing.TB, masterName string, opts ...Option) *Sentinel {
	t.Helper()
	requireReal(t, t.Name()+" (needs Redis Sentinel)")
	o := buildOptions(opts)
	if o.replicaOf != nil {
		t.Fatal("redistest: StartSentinel does not accept WithReplicaOf")
	}
	n := o.sentinels
	if n <= 0 {
		n = 1
	}
	master := Start(t, opts...)
	replica := Start(t, append(slices.Clone(opts), WithReplicaOf(master))...)
	err := master.waitFor(startTimeout, func() error {
		info, err := master.info("replication")
		if err != nil {
			return err
		}
		if c := infoField(info, "connected_slaves"); c != "1" {
			return fmt.Errorf("connected_slaves:%s", c)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: master %s does not see its replica: %v", master.Addr(), err)
	}

	sc := &sentinelConfig{name: masterName, master: master, quorum: n/2 + 1, peers: n - 1, authPass: o.password}
	so := &options{tls: o.tls}
	sn := &Sentinel{Master: master, Replica: replica, MasterName: masterName}
	for range n {
		sn.Sentinels = append(sn.Sentinels, startServer(t, so, modeSentinel, sc))
	}
	for _, s := range sn.Sentinels {
		if err := s.waitFor(startTimeout, func() error { return sentinelReady(s, sc) }); err != nil {
			t.Fatalf("redistest: sentinel %s not ready: %v\n--- log tail ---\n%s", s.Addr(), err, s.logTail(0))
		}
	}
	return sn
}

// sentinelReady checks that s reports the master, knows an online replica
// and all other sentinels, and has a usable quorum.
func sentinelReady(s *Server, sc *sentinelConfig) error {
	v, err := s.command("SENTINEL", "get-master-addr-by-name", sc.name)
	if err != nil {
		return err
	}
	want := []any{sc.master.host, strconv.Itoa(sc.master.port)}
	if got, ok := v.([]any); !ok || !slices.Equal(got, want) {
		return fmt.Errorf("get-master-addr-by-name = %v, want %v", v, want)
	}
	v, err = s.command("SENTINEL", "replicas", sc.name)
	if err != nil {
		return err
	}
	replicas, _ := v.([]any)
	online := 0
	for _, r := range replicas {
		fields, _ := r.([]any)
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] == "flags" && fields[i+1] == "slave" {
				online++
			}
		}
	}
	if online == 0 {
		return fmt.Errorf("no online replica known yet: %v", v)
	}
	v, err = s.command("SENTINEL", "sentinels", sc.name)
	if err != nil {
		return err
	}
	if peers, _ := v.([]any); len(peers) != sc.peers {
		return fmt.Errorf("knows %d other sentinels, want %d", len(peers), sc.peers)
	}
	if _, err := s.command("SENTINEL", "ckquorum", sc.name); err != nil {
		return fmt.Errorf("ckquorum: %w", err)
	}
	return nil
}

// Addrs returns the addresses of the sentinels.
func (s *Sentinel) Addrs() []string {
	addrs := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		addrs[i] = n.Addr()
	}
	return addrs
}
