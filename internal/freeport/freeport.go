// Package freeport finds a TCP port on 127.0.0.1 that nothing listens on, for
// the servers the tests and `make dev` start.
package freeport

import "net"

// Get returns a port that was free a moment ago.
func Get() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
