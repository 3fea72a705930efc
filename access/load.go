package access

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/warrenhq/warren/store"
	"github.com/warrenhq/warren/store/db"
)

// SecretName is the cluster_secrets row the Signer's secret lives in.
const SecretName = "access"

// Secrets is what Load needs of the store (store/queries/secrets.sql).
type Secrets interface {
	InsertClusterSecret(ctx context.Context, arg db.InsertClusterSecretParams) error
	GetClusterSecret(ctx context.Context, name string) ([]byte, error)
}

// Load returns the Signer over the cluster's shared secret, making the
// secret (32 random bytes) if no node has yet. Nodes starting together
// agree: every one offers its own, the first insert wins, and every one
// then reads the winner's.
func Load(ctx context.Context, st Secrets) (*Signer, error) {
	fresh := make([]byte, MinSecretBytes)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("access: making a secret: %w", err)
	}
	if err := st.InsertClusterSecret(ctx, db.InsertClusterSecretParams{Name: SecretName, Secret: fresh}); err != nil {
		return nil, fmt.Errorf("access: storing the cluster secret: %w", store.Map(err))
	}
	secret, err := st.GetClusterSecret(ctx, SecretName)
	if err != nil {
		return nil, fmt.Errorf("access: reading the cluster secret: %w", store.Map(err))
	}
	return New(secret)
}
