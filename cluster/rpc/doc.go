// Package rpc is Warren's node-to-node transport: the nodev1.Node gRPC service
// served and dialled over mutual TLS, plus helpers to stream template images
// between nodes and to retry transient failures.
//
// # Credentials: derived from the cluster key
//
// Nodes already share one secret, the 32-byte cluster key that encrypts gossip
// (`warren node keygen`, --cluster-key). Rather than creating a CA at the
// first bootstrap and distributing it (which needs a trusted channel and
// persistent state before the cluster exists), every node derives the same CA
// from that key:
//
//   - seed = HKDF-SHA256(key, salt = none, info = "warren cluster CA v1"), 32
//     bytes, the seed of an ed25519 private key (the CA key);
//   - a self-signed CA certificate with a fixed serial (1), a fixed subject
//     ("warren cluster CA"), a fixed validity (2000-01-01 to 2100-01-01 UTC).
//     Ed25519 signatures are deterministic, so the DER is byte-identical on
//     every node ([DeriveCA]).
//
// Each node then makes an ephemeral ed25519 key (never written to disk) and a
// leaf certificate signed by the CA: CN = the node ID, DNS SAN = the node ID
// plus the host names in Addrs, IP SANs = the IPs in Addrs, usable for both
// server and client auth. The leaf is valid from an hour ago (clock skew) for
// 30 days and re-issued transparently after half of that.
//
// Connections use TLS 1.3 only. The server requires and verifies a client
// certificate against the CA (tls.RequireAndVerifyClientCert). The client
// verifies the server's chain against the CA itself (in VerifyConnection) and
// ignores host names: a pool dials by address and any node holding the cluster
// key is a legitimate peer. A caller without a certificate from the same
// cluster key, or speaking plaintext, fails its handshake and sees
// Unavailable. Handlers learn the authenticated caller with [PeerNodeID].
//
// Consequences: whoever holds the cluster key can join the cluster (as with
// gossip); rotating the key means restarting every node with the new key; a
// leaked leaf key is useless after 30 days and a node restart.
//
// # Images
//
// [SendImage] serves nodev1.Node/PullImage from a file: it hashes the file first
// (the header carries the checksum), then sends its data regions in chunks of at
// most 1 MiB, skipping holes (SEEK_DATA/SEEK_HOLE) and all-zero chunks.
// [ReceiveImage] writes a sparse copy into a temporary file beside the
// destination, verifies size and checksum, fsyncs, renames it into place and
// fsyncs the directory; on any failure it removes the temporary file.
// [RemoveStaleTemps] clears temporary files a crash left behind.
package rpc
