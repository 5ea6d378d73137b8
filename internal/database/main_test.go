package database

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/buurt-dev/buurt/internal/testpg"
)

// server is one throwaway PostgreSQL server for the package's tests.
var server *testpg.Server

func TestMain(m *testing.M) {
	var err error
	server, err = testpg.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := server.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// admin is the throwaway server's superuser as buurt sees it in an admin
// Secret.
func admin() Admin {
	return Admin{Host: server.Host, Port: strconv.Itoa(server.Port), User: testpg.AdminUser, Password: server.Password, SSLMode: "disable"}
}
