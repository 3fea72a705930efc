package access_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/warrenhq/warren/access"
	"github.com/warrenhq/warren/id"
	"github.com/warrenhq/warren/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestLoadAgrees: nodes starting at once over one database all end up with
// the same secret, and a later start reads it back.
func TestLoadAgrees(t *testing.T) {
	st := storetest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sb := id.NewSandboxID()
	const n = 8
	toks := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := access.Load(ctx, st)
			errs[i] = err
			if err == nil {
				toks[i] = s.AccessToken(sb)
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("load %d: %v", i, errs[i])
		}
		if toks[i] != toks[0] {
			t.Fatalf("load %d minted %q, load 0 %q: the nodes disagree on the secret", i, toks[i], toks[0])
		}
	}
	later, err := access.Load(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if !later.CheckAccessToken(sb, toks[0]) {
		t.Fatal("a later start has another secret")
	}
	secret, err := st.GetClusterSecret(ctx, access.SecretName)
	if err != nil || len(secret) < access.MinSecretBytes {
		t.Fatalf("the stored secret: %d bytes, %v", len(secret), err)
	}
}
