package storage_test

import (
	"os"
	"testing"

	"recoverydesk/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}
