// An inventory service: records, indexes, reports, a worker pool and a small generic toolkit.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

type SKU string

type Item struct {
	SKU      SKU
	Name     string
	Tags     []string
	Price    int64
	Quantity int
	Supplier *Supplier
}

type Supplier struct {
	Name    string
	Country string
	Items   []*Item
}

// Snapshot is deliberately large: passing it by value copies 200+ bytes.
type Snapshot struct {
	Counts  [16]int
	Totals  [8]int64
	Label   string
	Created int64
}

type Inventory struct {
	mu        sync.Mutex
	items     map[SKU]*Item
	bySupp    map[string][]*Item
	history   []Snapshot
	listeners []func(*Item)
}

var ErrUnknown = errors.New("unknown item")

func NewInventory() *Inventory {
	return &Inventory{items: make(map[SKU]*Item), bySupp: map[string][]*Item{}}
}

func (inv *Inventory) Add(it *Item) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.items[it.SKU] = it
	if it.Supplier != nil {
		inv.bySupp[it.Supplier.Name] = append(inv.bySupp[it.Supplier.Name], it)
		it.Supplier.Items = append(it.Supplier.Items, it)
	}
	for _, l := range inv.listeners {
		l(it)
	}
}

func (inv *Inventory) OnAdd(f func(*Item)) { inv.listeners = append(inv.listeners, f) }

func (inv *Inventory) Take(sku SKU, n int) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	it, ok := inv.items[sku]
	if !ok {
		return fmt.Errorf("take %d of %s: %w", n, sku, ErrUnknown)
	}
	if it.Quantity < n {
		return &ShortError{SKU: sku, Want: n, Have: it.Quantity}
	}
	it.Quantity -= n
	return nil
}

type ShortError struct {
	SKU  SKU
	Want int
	Have int
}

func (e *ShortError) Error() string {
	return "short of " + string(e.SKU) + ": want " + strconv.Itoa(e.Want) + ", have " + strconv.Itoa(e.Have)
}

func (inv *Inventory) Snapshot(label string) Snapshot {
	var s Snapshot
	s.Label = label
	for _, it := range inv.items {
		s.Counts[len(it.Tags)%len(s.Counts)]++
		s.Totals[it.Quantity%len(s.Totals)] += it.Price * int64(it.Quantity)
	}
	inv.history = append(inv.history, s)
	return s
}

func describe(s Snapshot) string {
	var b strings.Builder
	b.WriteString(s.Label)
	for i, c := range s.Counts {
		if c > 0 {
			fmt.Fprintf(&b, " [%d]=%d", i, c)
		}
	}
	return b.String()
}

func (inv *Inventory) Report() []string {
	skus := make([]string, 0, len(inv.items))
	for k := range inv.items {
		skus = append(skus, string(k))
	}
	sort.Strings(skus)
	lines := make([]string, 0, len(skus))
	for _, k := range skus {
		it := inv.items[SKU(k)]
		lines = append(lines, fmt.Sprintf("%-8s %-20s %5d %8.2f", k, it.Name, it.Quantity, float64(it.Price)/100))
	}
	sort.Slice(lines, func(i, j int) bool { return len(lines[i]) < len(lines[j]) })
	return lines
}

func (inv *Inventory) Tagged(tag string) []*Item {
	var out []*Item
	for _, it := range inv.items {
		for _, t := range it.Tags {
			if t == tag {
				out = append(out, it)
				break
			}
		}
	}
	return out
}

// ---- a small generic toolkit ----------------------------------------------------------

type Set[T comparable] struct{ m map[T]struct{} }

func NewSet[T comparable](xs ...T) *Set[T] {
	s := &Set[T]{m: make(map[T]struct{}, len(xs))}
	for _, x := range xs {
		s.m[x] = struct{}{}
	}
	return s
}

func (s *Set[T]) Has(x T) bool { _, ok := s.m[x]; return ok }

func (s *Set[T]) Items() []T {
	out := make([]T, 0, len(s.m))
	for x := range s.m {
		out = append(out, x)
	}
	return out
}

func Map[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func Filter[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// ---- a worker pool ----------------------------------------------------------------------

type job struct {
	sku SKU
	n   int
}

func restock(inv *Inventory, jobs []job, workers int) (done int, errs []error) {
	ch := make(chan job)
	results := make(chan error, len(jobs))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			for j := range ch {
				inv.mu.Lock()
				it := inv.items[j.sku]
				if it == nil {
					results <- fmt.Errorf("worker %d: %s: %w", id, j.sku, ErrUnknown)
				} else {
					it.Quantity += j.n
					results <- nil
				}
				inv.mu.Unlock()
			}
		}(w)
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			errs = append(errs, err)
		} else {
			done++
		}
	}
	return done, errs
}

func counter() func() int {
	n := 0
	return func() int {
		n++
		return n
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		defer f.Close()
	}
}

func main() {
	inv := NewInventory()
	acme := &Supplier{Name: "acme", Country: "NL"}
	next := counter()
	var seen []SKU
	inv.OnAdd(func(it *Item) { seen = append(seen, it.SKU) })
	for i := 0; i < 20; i++ {
		sku := SKU("S" + strconv.Itoa(next()))
		inv.Add(&Item{SKU: sku, Name: fmt.Sprint("item ", i), Tags: []string{"t" + strconv.Itoa(i%3)}, Price: int64(i * 99), Quantity: i, Supplier: acme})
	}
	if err := inv.Take("S3", 100); err != nil {
		var short *ShortError
		if errors.As(err, &short) {
			fmt.Println("short:", short.Want-short.Have)
		}
	}
	snap := inv.Snapshot("after adds")
	fmt.Println(describe(snap))
	done, errs := restock(inv, []job{{"S1", 5}, {"S2", 7}, {"nope", 1}}, 3)
	fmt.Println(done, len(errs))
	names := Map(inv.Tagged("t1"), func(it *Item) string { return it.Name })
	long := Filter(names, func(s string) bool { return len(s) > 6 })
	set := NewSet(long...)
	ids := NewSet(1, 2, 3)
	fmt.Println(set.Has("item 4"), ids.Has(2), len(set.Items()), len(seen))
	for _, line := range inv.Report() {
		fmt.Println(line)
	}
	closeAll(nil)
}
