// An LRU cache with expiry, a ring buffer of events, and a text formatter for its stats.
package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

type entry struct {
	key        string
	value      any
	prev, next *entry
	expires    int64
	hits       int
}

type Stats struct {
	Hits, Misses, Evictions, Expired int
	PerKey                           [32]int
	Largest                          [8]string
}

type Cache struct {
	mu       sync.RWMutex
	capacity int
	items    map[string]*entry
	head     *entry // most recent
	tail     *entry
	now      func() int64
	stats    Stats
	events   *Ring
	onEvict  []func(key string, v any)
}

func NewCache(capacity int, now func() int64) *Cache {
	if now == nil {
		now = func() int64 { return time.Now().UnixNano() }
	}
	return &Cache{capacity: capacity, items: make(map[string]*entry, capacity), now: now, events: NewRing(64)}
}

func (c *Cache) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *Cache) pushFront(e *entry) {
	e.next = c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

func (c *Cache) Get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		c.stats.Misses++
		c.events.Push(Event{Kind: "miss", Key: key})
		return nil, false
	}
	if e.expires != 0 && e.expires < c.now() {
		c.remove(e)
		c.stats.Expired++
		return nil, false
	}
	e.hits++
	c.stats.Hits++
	c.stats.PerKey[len(key)%len(c.stats.PerKey)]++
	c.unlink(e)
	c.pushFront(e)
	return e.value, true
}

func (c *Cache) Put(key string, value any, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		e.value = value
		c.unlink(e)
		c.pushFront(e)
		return
	}
	e := &entry{key: key, value: value}
	if ttl > 0 {
		e.expires = c.now() + int64(ttl)
	}
	c.items[key] = e
	c.pushFront(e)
	for len(c.items) > c.capacity {
		c.remove(c.tail)
		c.stats.Evictions++
	}
}

func (c *Cache) remove(e *entry) {
	c.unlink(e)
	delete(c.items, e.key)
	for _, f := range c.onEvict {
		f(e.key, e.value)
	}
	c.events.Push(Event{Kind: "evict", Key: e.key, Value: e.value})
}

func (c *Cache) Keys() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	keys := make([]string, 0, len(c.items))
	for e := c.head; e != nil; e = e.next {
		keys = append(keys, e.key)
	}
	return keys
}

func (c *Cache) Snapshot() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := c.stats
	var ks []string
	for k := range c.items {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return len(ks[i]) > len(ks[j]) || len(ks[i]) == len(ks[j]) && ks[i] < ks[j] })
	copy(s.Largest[:], ks)
	return s
}

// ---- events ------------------------------------------------------------------------------

type Event struct {
	Kind  string
	Key   string
	Value any
	At    int
}

type Ring struct {
	buf   []Event
	start int
	n     int
	seq   int
}

func NewRing(size int) *Ring { return &Ring{buf: make([]Event, size)} }

func (r *Ring) Push(ev Event) {
	r.seq++
	ev.At = r.seq
	i := (r.start + r.n) % len(r.buf)
	r.buf[i] = ev
	if r.n < len(r.buf) {
		r.n++
	} else {
		r.start = (r.start + 1) % len(r.buf)
	}
}

func (r *Ring) Each(f func(Event) bool) {
	for i := 0; i < r.n; i++ {
		if !f(r.buf[(r.start+i)%len(r.buf)]) {
			return
		}
	}
}

func (r *Ring) Last(n int) []Event {
	if n > r.n {
		n = r.n
	}
	out := make([]Event, n)
	for i := range out {
		out[i] = r.buf[(r.start+r.n-n+i)%len(r.buf)]
	}
	return out
}

// ---- formatting --------------------------------------------------------------------------

func table(rows [][]string) string {
	widths := map[int]int{}
	for _, row := range rows {
		for i, cell := range row {
			if n := len([]rune(cell)); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var sb strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			sb.WriteString(cell)
			sb.WriteString(strings.Repeat(" ", widths[i]-len([]rune(cell))+1))
		}
		sb.WriteString("\n")
	}
	return sb.String()
}

func (s Stats) Rows() [][]string {
	rows := [][]string{{"hits", fmt.Sprint(s.Hits)}, {"misses", fmt.Sprint(s.Misses)}}
	rows = append(rows, []string{"evictions", fmt.Sprint(s.Evictions)}, []string{"expired", fmt.Sprint(s.Expired)})
	for _, k := range s.Largest {
		if k != "" {
			rows = append(rows, []string{"key", k})
		}
	}
	return rows
}

var errStop = errors.New("stop")

func drain(ch <-chan Event, quit <-chan struct{}) (n int, err error) {
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return n, nil
			}
			if ev.Kind == "stop" {
				return n, errStop
			}
			n++
		case <-quit:
			return n, fmt.Errorf("drained %d: %w", n, errStop)
		}
	}
}

func main() {
	var clock int64
	c := NewCache(4, func() int64 { clock += 10; return clock })
	evicted := 0
	c.onEvict = append(c.onEvict, func(key string, v any) { evicted++ })
	get := c.Get
	for i := 0; i < 12; i++ {
		key := fmt.Sprintf("k%d", i%6)
		if _, ok := get(key); !ok {
			c.Put(key, i*i, time.Duration(i%3)*time.Nanosecond*25)
		}
	}
	fmt.Print(table(c.Snapshot().Rows()))
	fmt.Println(strings.Join(c.Keys(), ","), evicted)
	c.events.Each(func(ev Event) bool {
		fmt.Println(ev.At, ev.Kind, ev.Key)
		return ev.At < 5
	})
	ch := make(chan Event, 8)
	quit := make(chan struct{})
	go func() {
		for _, ev := range c.events.Last(5) {
			ch <- ev
		}
		close(ch)
	}()
	n, err := drain(ch, quit)
	fmt.Println(n, err)
}
