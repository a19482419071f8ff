package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/netshare/netshare/host/internal/pipeline"
)

// testPKI is a CA, a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files into dir.
type testPKI struct {
	dir           string
	ca, cert, key string // the client's files
	serverCert    tls.Certificate
	pool          *x509.CertPool
	clientCN      string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "netshare test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &testPKI{dir: dir, clientCN: "netshare-worker", pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	p.ca = writePEM("ca.pem", "CERTIFICATE", caDER)
	srvDER, srvKey := issue(2, "temporal frontend", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	p.serverCert = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(3, p.clientCN, x509.ExtKeyUsageClientAuth, nil)
	p.cert = writePEM("client.pem", "CERTIFICATE", cliDER)
	der, err := x509.MarshalECPrivateKey(cliKey)
	if err != nil {
		t.Fatal(err)
	}
	p.key = writePEM("client.key", "EC PRIVATE KEY", der)
	return p
}

func TestConnOptions(t *testing.T) {
	pki := newTestPKI(t)
	file := func(name, content string) string {
		p := filepath.Join(pki.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := file("api.key", "secret-key\n")
	emptyKey := file("empty.key", "\n")
	notPEM := file("not.pem", "hello")
	tests := []struct {
		name    string
		cluster pipeline.Cluster
		env     map[string]string
		tls     bool
		certs   int
		ca      bool
		apiKey  bool
		wantErr string
	}{
		{name: "plaintext"},
		{name: "tls with system roots", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{Enabled: true}}, tls: true},
		{name: "private CA", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{CA: pki.ca}}, tls: true, ca: true},
		{name: "mTLS", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{CA: pki.ca, Cert: pki.cert, Key: pki.key}}, tls: true, ca: true, certs: 1},
		{name: "mTLS from the environment", env: map[string]string{EnvTLSCert: pki.cert, EnvTLSKey: pki.key}, tls: true, certs: 1},
		{name: "TEMPORAL_TLS", env: map[string]string{EnvTLS: "true"}, tls: true},
		{name: "the file wins over the environment", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{CA: pki.ca}},
			env: map[string]string{EnvTLSCA: notPEM}, tls: true, ca: true},
		{name: "api key file", cluster: pipeline.Cluster{APIKeyFile: keyFile}, apiKey: true},
		{name: "api key from the environment", env: map[string]string{EnvAPIKey: "k"}, apiKey: true},
		{name: "missing CA", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{CA: filepath.Join(pki.dir, "nope.pem")}}, wantErr: "cluster.tls.ca"},
		{name: "CA not PEM", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{CA: notPEM}}, wantErr: "no PEM certificate"},
		{name: "cert without key", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{Cert: pki.cert}}, wantErr: "needs its key"},
		{name: "key without cert", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{Key: pki.key}}, wantErr: "needs its certificate"},
		{name: "cert and key mismatched", cluster: pipeline.Cluster{TLS: pipeline.ClusterTLS{Cert: pki.ca, Key: pki.key}}, wantErr: "cluster.tls.cert"},
		{name: "empty api key file", cluster: pipeline.Cluster{APIKeyFile: emptyKey}, wantErr: "is empty"},
		{name: "missing api key file", cluster: pipeline.Cluster{APIKeyFile: filepath.Join(pki.dir, "none")}, wantErr: "cluster.api_key_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{EnvAPIKey, EnvTLS, EnvTLSCA, EnvTLSCert, EnvTLSKey, EnvTLSServerName} {
				t.Setenv(k, tc.env[k])
			}
			c := tc.cluster
			c.Address, c.Namespace = "127.0.0.1:7233", "default"
			o, err := ConnFrom(c, nil).clientOptions()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg := o.ConnectionOptions.TLS
			if (cfg != nil) != tc.tls {
				t.Fatalf("TLS config %v, want TLS %v", cfg, tc.tls)
			}
			if cfg != nil && (len(cfg.Certificates) != tc.certs || (cfg.RootCAs != nil) != tc.ca) {
				t.Fatalf("%d client certificates, private roots %v", len(cfg.Certificates), cfg.RootCAs != nil)
			}
			if (o.Credentials != nil) != tc.apiKey {
				t.Fatalf("credentials %v, want an API key %v", o.Credentials, tc.apiKey)
			}
		})
	}
}

// TestDialPresentsCertificateAndKey dials a TLS frontend that requires a
// client certificate from the test CA and records what each call carries:
// the client must verify the server by the private CA, present its
// certificate, and send the API key, read from its file, on every call.
func TestDialPresentsCertificateAndKey(t *testing.T) {
	pki := newTestPKI(t)
	for _, k := range []string{EnvAPIKey, EnvTLS, EnvTLSCA, EnvTLSCert, EnvTLSKey, EnvTLSServerName} {
		t.Setenv(k, "")
	}
	keyPath := filepath.Join(pki.dir, "api.key")
	if err := os.WriteFile(keyPath, []byte("key-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var auth, peers []string
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{pki.serverCert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool, MinVersion: tls.VersionTLS12})
	srv := grpc.NewServer(grpc.Creds(creds), grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		md, _ := metadata.FromIncomingContext(stream.Context())
		mu.Lock()
		auth = append(auth, md.Get("authorization")...)
		if p, ok := peer.FromContext(stream.Context()); ok {
			if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
				peers = append(peers, ti.State.PeerCertificates[0].Subject.CommonName)
			}
		}
		mu.Unlock()
		return status.Error(codes.Unavailable, "a test frontend")
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	conn := ConnFrom(pipeline.Cluster{Address: l.Addr().String(), Namespace: "team-a",
		TLS: pipeline.ClusterTLS{CA: pki.ca, Cert: pki.cert, Key: pki.key}, APIKeyFile: keyPath}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := Dial(ctx, conn, nil)
	if err == nil {
		cl.Close()
		t.Fatal("dialled a frontend that answers nothing")
	}
	if !strings.Contains(err.Error(), "client certificate") || !strings.Contains(err.Error(), "API key") {
		t.Errorf("the error does not say how the dial was secured: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) == 0 || peers[0] != pki.clientCN {
		t.Fatalf("the frontend saw client certificates %v, want %s", peers, pki.clientCN)
	}
	if len(auth) == 0 || auth[0] != "Bearer key-1" {
		t.Fatalf("the frontend saw authorization %q, want the key from the file", auth)
	}

	// Without the client certificate the handshake fails.
	plain := conn
	plain.TLS.Cert, plain.TLS.Key = "", ""
	n := len(peers)
	mu.Unlock()
	cl, err = Dial(ctx, plain, nil)
	mu.Lock()
	if err == nil {
		cl.Close()
		t.Fatal("dialled without a client certificate")
	}
	if len(peers) != n {
		t.Fatal("a call reached the frontend without a client certificate")
	}
}
