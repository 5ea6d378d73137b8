package blueprint

import (
	"sync"
	"time"
)

// recent keeps, by key, answers that cost a look outside the cache (at the
// cluster's admission policies, at a shared database server): a blueprint
// is reconciled on every change of one of its teams, and most of those
// changes do not change the answer.
type recent[K comparable, V any] struct {
	mu   sync.Mutex
	last map[K]answer[V]
}

type answer[V any] struct {
	value V
	at    time.Time
}

// get answers from what fetch gave for key less than maxAge ago, else asks
// fetch again. An error is not kept: the next get asks again.
func (c *recent[K, V]) get(key K, maxAge time.Duration, fetch func() (V, error)) (V, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.last[key]; ok && time.Since(last.at) < maxAge {
		return last.value, nil
	}
	value, err := fetch()
	if err != nil {
		return value, err
	}
	if c.last == nil {
		c.last = map[K]answer[V]{}
	}
	c.last[key] = answer[V]{value: value, at: time.Now()}
	return value, nil
}
