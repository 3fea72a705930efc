package chaos_test

import (
	"flag"
	"testing"
	"time"

	"github.com/warrenhq/warren/store/storetest"
)

// chaosDuration is how long the faults and the load go on; `make test` runs
// the default.
var chaosDuration = flag.Duration("chaos.duration", 150*time.Second, "how long the chaos test injects faults under load")

func TestMain(m *testing.M) { storetest.Main(m) }
