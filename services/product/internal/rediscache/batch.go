package rediscache

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// maxBatch bounds the entries one MGET asks for.
const maxBatch = 128

// maxInFlight bounds the MGETs in flight at once. With one, a loaded
// 2-core server idled a fifth of the time waiting for it; many would split
// the reads into batches too small to share.
const maxInFlight = 2

// lookupBatcher gathers the lookups of concurrent reads into one MGET of the
// generation and every entry asked for. Under load most of a cached read's
// cost is its Redis round trip (a write and a read on each side of a
// socket); gathered, a few dozen reads share one.
//
// There is no goroutine of its own and no timer: a lookup that finds fewer
// than maxInFlight MGETs in flight sends one for itself; one that finds
// them all taken queues and waits. When an MGET returns, its sender takes
// the queued lookups as the next batch and hands it to the oldest of them
// to send, instead of sending it itself, so no read serves others' lookups
// for longer than one round trip. A lookup is therefore always answered by
// an MGET sent after it began, which keeps the cache's rule: a read that
// starts after a write returned sees that write's invalidation.
type lookupBatcher struct {
	rdb    redis.UniversalClient
	genKey string

	mu       sync.Mutex
	inFlight int       // MGETs in flight or about to be sent
	queue    []*lookup // lookups waiting for a batch, oldest first; empty while inFlight < maxInFlight
}

// lookup is one read's part of an MGET.
type lookup struct {
	key        string
	gen, entry any   // the values MGET answered for the generation and key
	err        error // the MGET's error
	// done, made only for a lookup that queues, receives true once the
	// fields above are set, or false when this lookup's read must send the
	// MGET for batch.
	done  chan bool
	batch []*lookup // the lookups of the MGET handed to this one, itself first
}

// get returns the generation and the entry at key, as MGET genKey key
// would. It takes no context: a waiting lookup may be handed the next MGET
// and must be there to send it. Each MGET is bounded by opTimeout, so the
// wait is too: at most the MGET in flight and the one that answers it
// (more only with over maxBatch reads queued).
func (b *lookupBatcher) get(key string) (gen, entry any, err error) {
	l := &lookup{key: key}
	b.mu.Lock()
	if b.inFlight < maxInFlight {
		b.inFlight++
		b.mu.Unlock()
		b.send([]*lookup{l})
		return l.gen, l.entry, l.err
	}
	l.done = make(chan bool, 1)
	b.queue = append(b.queue, l)
	b.mu.Unlock()

	if answered := <-l.done; !answered {
		b.send(l.batch)
	}
	return l.gen, l.entry, l.err
}

// send sends one MGET for batch and answers its lookups, then takes the
// queued lookups (up to maxBatch) as the next batch and hands it to the
// oldest of them, or frees its slot when none are queued.
func (b *lookupBatcher) send(batch []*lookup) {
	keys := make([]string, 1, len(batch)+1)
	keys[0] = b.genKey
	for _, l := range batch {
		keys = append(keys, l.key)
	}
	// Not the caller's context: the lookups of other reads ride on it.
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	vals, err := b.rdb.MGet(ctx, keys...).Result()
	cancel()
	if err == nil && len(vals) != len(keys) {
		err = fmt.Errorf("MGET answered %d values for %d keys", len(vals), len(keys))
	}
	for i, l := range batch {
		if err != nil {
			l.err = err
		} else {
			l.gen, l.entry = vals[0], vals[i+1]
		}
		if l.done != nil {
			l.done <- true // buffered: a handed sender does not read it again
		}
	}

	b.mu.Lock()
	if len(b.queue) == 0 {
		b.inFlight--
		b.mu.Unlock()
		return
	}
	n := min(len(b.queue), maxBatch)
	next := b.queue[0]
	next.batch = b.queue[:n:n]
	b.queue = b.queue[n:]
	b.mu.Unlock()
	next.done <- false
}
