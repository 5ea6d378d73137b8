package database

import (
	"context"
	"crypto/sha256"
	"sync"
)

// Pools keeps one SharedServer per admin connection, so all teams on a
// server share its few connections. A changed admin password replaces the
// server's pool.
type Pools struct {
	mu      sync.Mutex
	servers map[Admin]*SharedServer
}

// NewPools returns an empty set of pools.
func NewPools() *Pools {
	return &Pools{servers: map[Admin]*SharedServer{}}
}

// Get returns the pool for admin, making it on first use.
func (p *Pools) Get(ctx context.Context, admin Admin) (*SharedServer, error) {
	key := admin
	// The map key holds a hash, not the password itself.
	sum := sha256.Sum256([]byte(admin.Password))
	key.Password = string(sum[:])
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.servers[key]; ok {
		return s, nil
	}
	for other, s := range p.servers {
		if other.Host == key.Host && other.Port == key.Port && other.User == key.User {
			// Closing waits for connections in use to come back: not while
			// every other team waits for this lock.
			go s.Close()
			delete(p.servers, other)
		}
	}
	s, err := ConnectShared(ctx, admin)
	if err != nil {
		return nil, err
	}
	p.servers[key] = s
	return s, nil
}

// Close closes every pool.
func (p *Pools) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, s := range p.servers {
		s.Close()
		delete(p.servers, key)
	}
}
