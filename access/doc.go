// Package access mints and checks the credentials that reach a sandbox
// without a team API key: the per-sandbox access token (E2B's
// envdAccessToken, sent as X-Access-Token) and signed, expiring port URLs
// that can be handed to a browser.
//
// Both are HMAC-SHA256 over a secret every node of the cluster shares (a
// row of cluster_secrets in Postgres, made by the first node that starts;
// see Load), so any node checks what any other minted, and nothing is
// stored per sandbox or per URL. The token of one sandbox says nothing of
// another's, a signed URL names its sandbox, port and expiry, and each kind
// of credential has its own derived key, so one can never stand in for the
// other.
package access
