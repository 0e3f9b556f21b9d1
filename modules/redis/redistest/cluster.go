package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// clusterSize is the number of master nodes StartCluster creates.
const clusterSize = 3

// Cluster is a Redis Cluster of three masters without replicas, covering
// all 16384 slots.
type Cluster struct {
	Nodes []*Server // cluster nodes; Client connects to a single node
}

// StartCluster starts three cluster-enabled redis-server nodes on free data
// and cluster bus ports, joins them with "redis-cli --cluster create" and
// waits until every node reports cluster_state:ok. opts apply to every
// node. Skips or fails like [RequireReal] without redis-server or
// redis-cli.
func StartCluster(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	requireReal(t, t.Name()+" (needs Redis Cluster)")
	if _, err := exec.LookPath("redis-cli"); err != nil {
		if requireEnvSet() {
			t.Fatalf("redis-cli not installed (%s=1): %s", requireEnv, t.Name())
		}
		t.Skipf("redis-cli not installed: skipping %s (needs Redis Cluster)", t.Name())
	}
	o := buildOptions(opts)
	if o.replicaOf != nil {
		t.Fatal("redistest: StartCluster does not accept WithReplicaOf")
	}
	c := &Cluster{}
	for range clusterSize {
		c.Nodes = append(c.Nodes, startServer(t, o, modeCluster, nil))
	}

	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if f := o.tls; f != nil {
		args = append(args, "--tls", "--cacert", f.CAFile, "--cert", f.ClientCertFile, "--key", f.ClientKeyFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", args...)
	cmd.Env = os.Environ()
	if o.password != "" {
		cmd.Env = append(cmd.Env, "REDISCLI_AUTH="+o.password)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}

	for _, n := range c.Nodes {
		err := n.waitFor(startTimeout, func() error {
			v, err := n.command("CLUSTER", "INFO")
			if err != nil {
				return err
			}
			info, _ := v.(string)
			if infoField(info, "cluster_state") != "ok" ||
				infoField(info, "cluster_slots_ok") != "16384" ||
				infoField(info, "cluster_known_nodes") != fmt.Sprint(clusterSize) {
				return fmt.Errorf("CLUSTER INFO:\n%s", info)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("redistest: cluster node %s not ok: %v", n.Addr(), err)
		}
	}
	return c
}

// Addrs returns the addresses of all cluster nodes.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}
