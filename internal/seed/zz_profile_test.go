package seed

import (
	"os"
	"strconv"
	"testing"
)

func TestZZWorkers(t *testing.T) {
	w, _ := strconv.Atoi(os.Getenv("SEED_WORKERS"))
	if w == 0 {
		t.Skip()
	}
	pgWorkers = w
	TestSyntheticPostgresRate(t)
}
