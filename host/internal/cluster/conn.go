package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/netshare/netshare/host/internal/pipeline"
)

// Conn says how to reach Temporal: a self-hosted frontend in the clear, one
// behind TLS (a private CA, mTLS client certificates), or Temporal Cloud
// (mTLS or an API key). Secrets are read from the files named here or from
// the environment, never from a pipeline.
type Conn struct {
	Address   string
	Namespace string
	TaskQueue string
	// TLS is on when Enabled, when any file below is named, or with an
	// API key.
	TLS pipeline.ClusterTLS
	// APIKeyFile holds the API key (re-read when it changes, so a rotated
	// key is picked up); APIKeyEnv, when set, names the environment
	// variable that holds it instead.
	APIKeyFile string
	APIKeyEnv  string
}

// Environment variables the connection falls back on, named as the
// temporal CLI names them, so one environment serves both.
const (
	EnvAPIKey        = "TEMPORAL_API_KEY"
	EnvTLS           = "TEMPORAL_TLS"
	EnvTLSCA         = "TEMPORAL_TLS_CA_PATH"
	EnvTLSCert       = "TEMPORAL_TLS_CERT_PATH"
	EnvTLSKey        = "TEMPORAL_TLS_KEY_PATH"
	EnvTLSServerName = "TEMPORAL_TLS_SERVER_NAME"
)

// ConnFrom takes the connection settings from a pipeline's [cluster],
// resolving its file paths with resolve (nil keeps them as written), and
// falls back on the TEMPORAL_* environment for what [cluster] leaves
// unset.
func ConnFrom(c pipeline.Cluster, resolve func(string) string) Conn {
	if resolve == nil {
		resolve = func(p string) string { return p }
	}
	t := c.TLS
	pick := func(toml, env string) string {
		if toml != "" {
			return resolve(toml)
		}
		return os.Getenv(env)
	}
	t.CA, t.Cert, t.Key = pick(t.CA, EnvTLSCA), pick(t.Cert, EnvTLSCert), pick(t.Key, EnvTLSKey)
	if t.ServerName == "" {
		t.ServerName = os.Getenv(EnvTLSServerName)
	}
	if on, err := strconv.ParseBool(os.Getenv(EnvTLS)); err == nil && on {
		t.Enabled = true
	}
	conn := Conn{Address: c.Address, Namespace: c.Namespace, TaskQueue: c.TaskQueue, TLS: t}
	if c.APIKeyFile != "" {
		conn.APIKeyFile = resolve(c.APIKeyFile)
	} else if os.Getenv(EnvAPIKey) != "" {
		conn.APIKeyEnv = EnvAPIKey
	}
	return conn
}

// clientOptions builds the SDK's options, reading every file now so that
// a missing or malformed one is an error naming it, before any dial.
func (c Conn) clientOptions() (client.Options, error) {
	o := client.Options{HostPort: c.Address, Namespace: c.Namespace}
	t := c.TLS
	if t.Enabled || t.CA != "" || t.Cert != "" || t.Key != "" || t.ServerName != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
		if t.CA != "" {
			pem, err := os.ReadFile(t.CA)
			if err != nil {
				return o, fmt.Errorf("cluster.tls.ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("cluster.tls.ca: %s holds no PEM certificate", t.CA)
			}
		}
		switch {
		case t.Cert != "" && t.Key != "":
			pair, err := tls.LoadX509KeyPair(t.Cert, t.Key)
			if err != nil {
				return o, fmt.Errorf("cluster.tls.cert %s and cluster.tls.key %s: %w", t.Cert, t.Key, err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		case t.Cert != "":
			return o, fmt.Errorf("cluster.tls.cert %s: a client certificate needs its key (cluster.tls.key or %s)", t.Cert, EnvTLSKey)
		case t.Key != "":
			return o, fmt.Errorf("cluster.tls.key %s: a client key needs its certificate (cluster.tls.cert or %s)", t.Key, EnvTLSCert)
		}
		o.ConnectionOptions.TLS = cfg
	}
	switch {
	case c.APIKeyFile != "":
		k := &keyFile{path: c.APIKeyFile}
		if _, err := k.key(); err != nil {
			return o, err
		}
		o.Credentials = client.NewAPIKeyDynamicCredentials(func(context.Context) (string, error) { return k.key() })
	case c.APIKeyEnv != "":
		key := strings.TrimSpace(os.Getenv(c.APIKeyEnv))
		if key == "" {
			return o, fmt.Errorf("%s is empty", c.APIKeyEnv)
		}
		o.Credentials = client.NewAPIKeyStaticCredentials(key)
	}
	// An API key implies TLS (the SDK turns it on with the system's roots
	// when no TLS is configured).
	return o, nil
}

// keyFile reads an API key from a file, again whenever the file changes.
type keyFile struct {
	path string

	mu    sync.Mutex
	mtime int64
	size  int64
	val   string
}

func (k *keyFile) key() (string, error) {
	st, err := os.Stat(k.path)
	if err != nil {
		return "", fmt.Errorf("cluster.api_key_file: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.val != "" && st.ModTime().UnixNano() == k.mtime && st.Size() == k.size {
		return k.val, nil
	}
	b, err := os.ReadFile(k.path)
	if err != nil {
		return "", fmt.Errorf("cluster.api_key_file: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("cluster.api_key_file: %s is empty", k.path)
	}
	k.val, k.mtime, k.size = v, st.ModTime().UnixNano(), st.Size()
	return v, nil
}

// Dial connects to Temporal; the SDK's own log goes to log at warning level
// and above.
func Dial(ctx context.Context, c Conn, log io.Writer) (client.Client, error) {
	if log == nil {
		log = io.Discard
	}
	opts, err := c.clientOptions()
	if err != nil {
		return nil, fmt.Errorf("temporal at %s: %w", c.Address, err)
	}
	opts.Logger = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn})))
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("temporal at %s (namespace %s%s): %w", c.Address, c.Namespace, c.describeSecurity(), err)
	}
	return cl, nil
}

// describeSecurity says, for an error message, how the dial was secured.
func (c Conn) describeSecurity() string {
	var parts []string
	if c.TLS.Enabled || c.TLS.CA != "" || c.TLS.Cert != "" || c.TLS.ServerName != "" {
		parts = append(parts, "TLS")
	}
	if c.TLS.Cert != "" {
		parts = append(parts, "client certificate "+c.TLS.Cert)
	}
	if c.APIKeyFile != "" || c.APIKeyEnv != "" {
		parts = append(parts, "API key")
	}
	if len(parts) == 0 {
		return ", plaintext"
	}
	return ", " + strings.Join(parts, ", ")
}
