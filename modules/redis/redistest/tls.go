package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TLSFiles are PEM files of a throw-away test PKI: a CA, a server
// certificate valid for 127.0.0.1, ::1 and localhost, and a client
// certificate, all signed by the CA. Pass it to [WithTLS].
type TLSFiles struct {
	CAFile         string // CA certificate
	CertFile       string // server certificate (also usable as client certificate)
	KeyFile        string // server private key
	ClientCertFile string // client certificate
	ClientKeyFile  string // client private key

	// RequireClientCert makes the server demand a client certificate
	// (tls-auth-clients yes). When false (the default) client
	// certificates are optional.
	RequireClientCert bool
}

// NewTLSFiles generates a fresh test CA, server and client certificate and
// writes them into t.TempDir().
func NewTLSFiles(t testing.TB) *TLSFiles {
	t.Helper()
	f, err := writeTLSFiles(t.TempDir())
	if err != nil {
		t.Fatalf("redistest: generate TLS files: %v", err)
	}
	return f
}

// ClientConfig returns a TLS client configuration that trusts the test CA
// and presents the client certificate.
func (f *TLSFiles) ClientConfig(t testing.TB) *tls.Config {
	t.Helper()
	cfg, err := f.clientConfig()
	if err != nil {
		t.Fatalf("redistest: TLS client config: %v", err)
	}
	return cfg
}

func (f *TLSFiles) clientConfig() (*tls.Config, error) {
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", f.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(f.ClientCertFile, f.ClientKeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

var (
	tlsProbeOnce sync.Once
	tlsProbeErr  error
)

// TLSSupported reports whether the installed redis-server was built with TLS
// support. The first call starts a short-lived TLS redis-server and performs
// a handshake; the result is cached. It is false when redis-server is not
// installed.
func TLSSupported() bool {
	tlsProbeOnce.Do(func() { tlsProbeErr = probeTLS() })
	return tlsProbeErr == nil
}

func probeTLS() error {
	if !Available() {
		return errNoBinary
	}
	dir, err := os.MkdirTemp("", "redistest-tls-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	files, err := writeTLSFiles(dir)
	if err != nil {
		return err
	}
	o := &options{tls: files}
	s, err := startReal(o, modeData, dir, 3*time.Second)
	if err != nil {
		return err
	}
	s.shutdown()
	return nil
}

func writeTLSFiles(dir string) (*TLSFiles, error) {
	now := time.Now()
	newKey := func() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }
	serial := func() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)) }

	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	caSerial, err := serial()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          caSerial,
		Subject:               pkix.Name{CommonName: "redistest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	leaf := func(cn string, server bool) (certDER []byte, key *ecdsa.PrivateKey, err error) {
		key, err = newKey()
		if err != nil {
			return nil, nil, err
		}
		sn, err := serial()
		if err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: sn,
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(48 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if server {
			// Redis also uses its server certificate as client certificate
			// for replication and cluster bus connections.
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
			tmpl.DNSNames = []string{"localhost"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		certDER, err = x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		return certDER, key, err
	}
	srvDER, srvKey, err := leaf("redistest server", true)
	if err != nil {
		return nil, err
	}
	cliDER, cliKey, err := leaf("redistest client", false)
	if err != nil {
		return nil, err
	}

	f := &TLSFiles{
		CAFile:         filepath.Join(dir, "ca.crt"),
		CertFile:       filepath.Join(dir, "server.crt"),
		KeyFile:        filepath.Join(dir, "server.key"),
		ClientCertFile: filepath.Join(dir, "client.crt"),
		ClientKeyFile:  filepath.Join(dir, "client.key"),
	}
	if err := writePEM(f.CAFile, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	if err := writePEM(f.CertFile, "CERTIFICATE", srvDER); err != nil {
		return nil, err
	}
	if err := writeKey(f.KeyFile, srvKey); err != nil {
		return nil, err
	}
	if err := writePEM(f.ClientCertFile, "CERTIFICATE", cliDER); err != nil {
		return nil, err
	}
	if err := writeKey(f.ClientKeyFile, cliKey); err != nil {
		return nil, err
	}
	return f, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "PRIVATE KEY", der)
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
