// Package rediscache is the product service's read-through cache of single
// products in Redis.
//
// The rule it keeps: a read never returns a product older than the last
// write that returned, on any replica, as long as Redis keeps the keys
// written to it. Three mechanisms hold it:
//
//   - Versioned entries. An entry is a string "generation version body"
//     (an empty body is a tombstone). Every write, before it returns,
//     stores the new version (or, for a delete, a tombstone with an
//     unbeatable version) with a Lua script that refuses to replace a
//     higher version. A reader that
//     read an old version from MongoDB before the write and fills the
//     cache after it is therefore refused: the classic stale-fill race.
//     Fills are also dropped when the read took longer than maxFillAge,
//     so an entry or tombstone that expired (or was evicted) meanwhile
//     cannot let a very slow reader in.
//   - A generation. Every entry records the generation (an integer key
//     beside the entries) current when it was written, and a lookup reads the
//     generation and the entry with one MGET: an entry of an older
//     generation is a miss. When a write could not reach Redis, its
//     replica remembers that it owes an invalidation, bypasses the cache
//     itself, and bumps the generation the moment Redis answers again
//     (Run retries every repairInterval), which drops every entry that may
//     predate its write. A fill carries the generation its reader saw
//     before reading MongoDB and is refused if it changed, so a reader
//     that raced the bump cannot bring an old entry back under the new
//     generation.
//   - A breaker. After a Redis error the cache is bypassed for
//     retryAfter, so that while Redis is away requests pay no timeouts;
//     writes made then count as failed invalidations.
//
// Residual windows, documented in the service README: while one replica
// cannot reach Redis but others can, they may serve the entry its write
// could not replace, until it reaches Redis again or the entry's TTL ends;
// after Redis comes back, until the next repair tick (repairInterval);
// and data Redis loses or restores on its own (eviction beyond
// maxFillAge, a restart from an old snapshot) is outside what a cache
// client can see.
package rediscache

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/services/product/internal/product"
)

const (
	// DefaultKeyPrefix starts every key of the cache: prefix + "id:" + id
	// is a product's entry, and prefix + "gen" holds the generation
	// (absent means "0"). The "id:" keeps any id a client sends from
	// naming the generation key.
	DefaultKeyPrefix = "product:"
	// maxIDBytes bounds the ids worth asking Redis about; ours are 24.
	maxIDBytes = 64
	// tombstoneVersion outranks every real version (and is exact in Lua's
	// doubles), so no fill can bring a deleted product back.
	tombstoneVersion = int64(1) << 52
	// tombstoneTTL is how long a delete keeps stale fills out: far longer
	// than maxFillAge, which bounds how late a fill can come.
	tombstoneTTL = time.Minute
	// maxFillAge is the longest a reader may take from its lookup to its
	// fill; a slower read's result is served but not cached.
	maxFillAge = time.Second
	// opTimeout bounds each cache call, so that a slow Redis costs a read
	// at most this much on top of MongoDB.
	opTimeout = 250 * time.Millisecond
	// retryAfter is how long the cache is bypassed after a Redis error.
	retryAfter = 500 * time.Millisecond
	// repairInterval is how often a replica that owes an invalidation
	// tries to bump the generation.
	repairInterval = 100 * time.Millisecond
)

// putScript stores an entry unless the cache already holds the same or a
// newer version in the current generation. A reader passes the generation
// it saw before reading MongoDB and is refused if it has changed since;
// writers pass "" and always write into the current generation.
//
// KEYS[1] generation key, KEYS[2] entry key; ARGV[1] expected generation
// or "", ARGV[2] version, ARGV[3] body ("" for a tombstone), ARGV[4] TTL
// in milliseconds. Returns 1 when stored, 0 when refused.
//
// An entry key holding anything but a string (a hash of the format before
// entries were strings, during a rolling update) makes GET fail: the write
// then counts as failed and bumps the generation, and lookups of such keys
// see a miss, so mixing formats costs hits, never freshness.
var putScript = redis.NewScript(`
local gen = redis.call('GET', KEYS[1]) or '0'
if ARGV[1] ~= '' and ARGV[1] ~= gen then return 0 end
local cur = redis.call('GET', KEYS[2])
if cur then
  local g, v = string.match(cur, '^(%d+) (%d+) ')
  if g == gen and v and tonumber(v) >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[2], gen .. ' ' .. ARGV[2] .. ' ' .. ARGV[3], 'PX', ARGV[4])
return 1
`)

// Options configure a Cache.
type Options struct {
	// TTL is how long an entry lives; required.
	TTL time.Duration
	// Registerer receives product_cache_lookups_total; nil means none.
	Registerer prometheus.Registerer
	// Logger receives Redis failures; nil discards.
	Logger *slog.Logger
	// KeyPrefix replaces DefaultKeyPrefix; tests sharing a Redis use it
	// to keep apart.
	KeyPrefix string
}

// Cache implements product.Cache over Redis.
type Cache struct {
	rdb     redis.UniversalClient
	prefix  string
	genKey  string
	ttl     time.Duration
	log     *slog.Logger
	lookups *prometheus.CounterVec
	// batcher gathers concurrent lookups into one MGET.
	batcher *lookupBatcher
	// The lookups counters, resolved once.
	hits, misses, lookupErrs, bypasses prometheus.Counter
	now                                func() time.Time

	// memo holds recently decoded entries (see decoded).
	memo [memoSlots]atomic.Pointer[memoEntry]

	// owed is set when a write could not tell Redis; until the generation
	// is bumped, this replica neither reads nor fills the cache.
	owed atomic.Bool
	// openUntil is when the breaker closes again (Unix nanoseconds).
	openUntil atomic.Int64
}

// New returns a cache over rdb. Call Run so that invalidations owed after
// an outage are paid as soon as Redis is back.
func New(rdb redis.UniversalClient, o Options) *Cache {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "product_cache_lookups_total",
		Help: "Product cache lookups by result: hit, miss, error (Redis failed) or bypass (cache skipped after a failure).",
	}, []string{"result"})
	if o.Registerer != nil {
		o.Registerer.MustRegister(lookups)
	}
	for _, r := range []string{"hit", "miss", "error", "bypass"} {
		lookups.WithLabelValues(r) // every series exists from the start
	}
	prefix := o.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &Cache{rdb: rdb, prefix: prefix, genKey: prefix + "gen", ttl: o.TTL, log: log, lookups: lookups,
		batcher: &lookupBatcher{rdb: rdb, genKey: prefix + "gen"},
		hits:    lookups.WithLabelValues("hit"), misses: lookups.WithLabelValues("miss"),
		lookupErrs: lookups.WithLabelValues("error"), bypasses: lookups.WithLabelValues("bypass"),
		now: time.Now}
}

// Run pays owed invalidations every repairInterval until ctx ends.
func (c *Cache) Run(ctx context.Context) {
	t := time.NewTicker(repairInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c.owed.Load() {
				c.repair(ctx)
			}
		}
	}
}

// repair bumps the generation if an invalidation is owed, and reports
// whether the cache may be used.
func (c *Cache) repair(ctx context.Context) bool {
	if !c.owed.Load() {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	gen, err := c.rdb.Incr(ctx, c.genKey).Result()
	if err != nil {
		c.failed(ctx, "bump cache generation", err)
		return false
	}
	c.owed.Store(false)
	c.log.InfoContext(ctx, "product cache generation bumped after a missed invalidation", "generation", gen)
	return true
}

// usable reports whether the cache may be used now: the breaker is closed
// and no invalidation is owed (paying it first if Redis answers).
func (c *Cache) usable(ctx context.Context) bool {
	if c.now().UnixNano() < c.openUntil.Load() {
		return false
	}
	return c.repair(ctx)
}

// failed opens the breaker and logs err.
func (c *Cache) failed(ctx context.Context, what string, err error) {
	c.openUntil.Store(c.now().Add(retryAfter).UnixNano())
	c.log.WarnContext(ctx, "product cache: "+what+" failed; bypassing the cache", "error", err)
}

// owe records a write whose invalidation did not reach Redis.
func (c *Cache) owe(ctx context.Context, what string, err error) {
	c.owed.Store(true)
	if err != nil {
		c.failed(ctx, what, err)
	}
}

func (c *Cache) entryKey(id string) string { return c.prefix + "id:" + id }

// Get looks the product up, reading the generation and the entry with one
// MGET, shared with the lookups of concurrent reads (lookupBatcher). On a miss it returns a fill function bound to the generation seen
// now. A hit is a product of its own, but its Attributes map may be shared
// with other hits of the same entry: callers must not modify it.
func (c *Cache) Get(ctx context.Context, id string) (*product.Product, func(context.Context, *product.Product)) {
	if len(id) > maxIDBytes {
		return nil, nil
	}
	if !c.usable(ctx) {
		c.bypasses.Inc()
		return nil, nil
	}
	started := c.now()
	genVal, entryVal, err := c.batcher.get(c.entryKey(id))
	if err != nil {
		c.lookupErrs.Inc()
		c.failed(ctx, "lookup", err)
		return nil, nil
	}
	gen, _ := genVal.(string)
	if gen == "" {
		gen = "0" // no generation key yet
	}
	raw, _ := entryVal.(string) // nil (absent, or not a string) is a miss
	if g, _, body, ok := splitEntry(raw); ok && g == gen && body != "" {
		p, err := c.decoded(id, body)
		if err == nil && p.ID == id {
			c.hits.Inc()
			return p, nil
		}
		c.log.WarnContext(ctx, "product cache: undecodable entry; reading through", "id", id, "error", err)
	}
	c.misses.Inc()
	return nil, func(ctx context.Context, p *product.Product) {
		if c.now().Sub(started) > maxFillAge || !c.usable(ctx) {
			return
		}
		_ = c.put(ctx, gen, p.ID, p.Version, encode(p), c.ttl)
	}
}

// splitEntry splits an entry "generation version body" into its parts.
func splitEntry(raw string) (gen, version, body string, ok bool) {
	gen, rest, ok := strings.Cut(raw, " ")
	if !ok {
		return "", "", "", false
	}
	version, body, ok = strings.Cut(rest, " ")
	return gen, version, body, ok
}

// decoded returns the product an entry's body holds. The last body decoded
// in each memo slot is kept, so that a hot product is decoded once per
// version and not once per read. The memo is keyed by the exact body, so
// it answers nothing but what decoding the body would.
func (c *Cache) decoded(id, body string) (*product.Product, error) {
	slot := &c.memo[memoSlot(id)]
	if m := slot.Load(); m != nil && m.id == id && m.body == body {
		p := *m.p
		return &p, nil
	}
	p, err := decode(body)
	if err != nil {
		return nil, err
	}
	slot.Store(&memoEntry{id: id, body: body, p: p})
	cp := *p
	return &cp, nil
}

// memoSlots is how many decoded entries a Cache keeps at most (a few
// hundred bytes each), one per slot of a hash of the id.
const memoSlots = 1024

// memoEntry is one decoded entry; p is never modified once stored.
type memoEntry struct {
	id, body string
	p        *product.Product
}

// memoSlot hashes id (FNV-1a) to a slot of Cache.memo.
func memoSlot(id string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return h % memoSlots
}

// Stored makes p the cached version, unless a newer one is cached.
func (c *Cache) Stored(ctx context.Context, p *product.Product) {
	if !c.writable(ctx, "store after write") {
		return
	}
	if err := c.put(ctx, "", p.ID, p.Version, encode(p), c.ttl); err != nil {
		c.owe(ctx, "store after write", nil)
	}
}

// Deleted caches a tombstone for id, so no reader can cache the product
// again.
func (c *Cache) Deleted(ctx context.Context, id string) {
	if !c.writable(ctx, "tombstone after delete") {
		return
	}
	if err := c.put(ctx, "", id, tombstoneVersion, "", tombstoneTTL); err != nil {
		c.owe(ctx, "tombstone after delete", nil)
	}
}

// Uncertain bumps the generation at once: the write may land in MongoDB
// at any moment, so no entry of the product can be trusted, and only a
// generation change also refuses fills by readers in flight.
func (c *Cache) Uncertain(ctx context.Context, _ string) {
	c.owed.Store(true)
	if c.now().UnixNano() >= c.openUntil.Load() {
		c.repair(ctx)
	}
}

// writable reports whether a write may tell the cache now; when it may not
// (breaker open, invalidation owed and Redis still away), the write is
// owed.
func (c *Cache) writable(ctx context.Context, what string) bool {
	if c.usable(ctx) {
		return true
	}
	c.owe(ctx, what, nil)
	return false
}

// put runs putScript. A Redis failure opens the breaker and is returned.
func (c *Cache) put(ctx context.Context, gen, id string, version int64, body string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	err := putScript.Run(ctx, c.rdb, []string{c.genKey, c.entryKey(id)},
		gen, strconv.FormatInt(version, 10), body, ttl.Milliseconds()).Err()
	if err != nil {
		c.failed(ctx, "store", err)
	}
	return err
}

// entry is a product as cached.
type entry struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Price       int64          `json:"priceCents"`
	Stock       int64          `json:"stock"`
	Reserved    int64          `json:"reserved"`
	Sold        int64          `json:"sold"`
	Attributes  map[string]any `json:"attributes"`
	CreatedAt   time.Time      `json:"createdAt"`
	UpdatedAt   time.Time      `json:"updatedAt"`
	Version     int64          `json:"version"`
}

func encode(p *product.Product) string {
	data, _ := json.Marshal(entry{ // plain values only: cannot fail
		ID: p.ID, Name: p.Name, Description: p.Description, Price: int64(p.Price),
		Stock: p.Stock, Reserved: p.Reserved, Sold: p.Sold, Attributes: p.Attributes,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version,
	})
	return string(data)
}

func decode(body string) (*product.Product, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.UseNumber() // whole-number attributes stay int64
	var e entry
	if err := dec.Decode(&e); err != nil {
		return nil, err
	}
	attrs := make(product.Attributes, len(e.Attributes))
	for k, v := range e.Attributes {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				v = i
			} else if f, err := n.Float64(); err == nil {
				v = f
			}
		}
		attrs[k] = v
	}
	return &product.Product{
		ID: e.ID, Name: e.Name, Description: e.Description, Price: product.Money(e.Price),
		Stock: e.Stock, Reserved: e.Reserved, Sold: e.Sold, Attributes: attrs,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Version: e.Version,
	}, nil
}
