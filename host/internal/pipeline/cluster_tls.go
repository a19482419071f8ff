package pipeline

// ClusterTLS is [cluster.tls]: how a client or worker verifies the
// Temporal frontend and proves itself to it (mTLS). Every value is a file
// path or a name, never key material; docs/cluster.md lists the
// environment variables that stand in for each.
type ClusterTLS struct {
	// Enabled turns TLS on with the system's roots when no file is named
	// (a frontend behind a certificate from a public CA).
	Enabled bool `toml:"enabled"`
	// CA is a PEM file of the authorities that sign the frontend's
	// certificate (a private CA); empty means the system's roots.
	CA string `toml:"ca"`
	// Cert and Key are the client's PEM certificate and private key for
	// mTLS; both or neither.
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	// ServerName is the name to verify the frontend's certificate against
	// when it differs from the address's host.
	ServerName string `toml:"server_name"`
}
