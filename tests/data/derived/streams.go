// Streams of log records with iterators (Go 1.23+): parse, filter, group, and write out.
package main

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
)

type Record struct {
	Level   string
	Service string
	Message string
	Latency int
	Fields  map[string]string
}

func Lines(text string) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		n := 0
		for line := range strings.SplitSeq(text, "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			if !yield(n, line) {
				return
			}
			n++
		}
	}
}

func Parse(lines iter.Seq2[int, string]) iter.Seq[*Record] {
	return func(yield func(*Record) bool) {
		for _, line := range lines {
			r := &Record{Fields: map[string]string{}}
			for i, part := range strings.Fields(line) {
				k, v, ok := strings.Cut(part, "=")
				switch {
				case i == 0:
					r.Level = part
				case !ok:
					r.Message += part + " "
				case k == "svc":
					r.Service = v
				case k == "ms":
					fmt.Sscan(v, &r.Latency)
				default:
					r.Fields[k] = v
				}
			}
			if !yield(r) {
				return
			}
		}
	}
}

func Filter[T any](seq iter.Seq[T], keep func(T) bool) iter.Seq[T] {
	return func(yield func(T) bool) {
		for x := range seq {
			if keep(x) && !yield(x) {
				return
			}
		}
	}
}

type Group struct {
	Service string
	Count   int
	Total   int
	Worst   []*Record
}

func GroupBy(seq iter.Seq[*Record]) map[string]*Group {
	groups := map[string]*Group{}
	var mu sync.Mutex
	for r := range seq {
		mu.Lock()
		defer mu.Unlock()
		g := groups[r.Service]
		if g == nil {
			g = &Group{Service: r.Service}
			groups[r.Service] = g
		}
		g.Count++
		g.Total += r.Latency
		g.Worst = append(g.Worst, r)
		slices.SortFunc(g.Worst, func(a, b *Record) int { return cmp.Compare(b.Latency, a.Latency) })
		if len(g.Worst) > 3 {
			g.Worst = g.Worst[:3]
		}
	}
	return groups
}

func Key(prefix, name string) []byte {
	return []byte(prefix + "/" + name)
}

func Summary(groups map[string]*Group) string {
	var sb strings.Builder
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		g := groups[name]
		fmt.Fprintf(&sb, "%s %d avg=%d", Key("svc", name), g.Count, g.Total/max(g.Count, 1))
		for i := range len(g.Worst) {
			sb.WriteString(" " + g.Worst[i].Message)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

func Histogram(values []int, width int) [][]byte {
	rows := make([][]byte, 0, 8)
	for v := range slices.Values(values) {
		n := min(v/width, 40)
		row := make([]byte, n)
		for i := range n {
			row[i] = '*'
		}
		rows = append(rows, row)
	}
	return rows
}

const input = `
INFO svc=api ms=12 GET /users
WARN svc=api ms=340 GET /search slow=true
INFO svc=db ms=3 query users
ERROR svc=db ms=1200 query orders timeout=true
INFO svc=api ms=25 POST /orders
INFO svc=cache ms=1 hit key=u1
`

func main() {
	slow := Filter(Parse(Lines(input)), func(r *Record) bool { return r.Latency > 2 })
	groups := GroupBy(slow)
	fmt.Print(Summary(groups))
	var lat []int
	for r := range Parse(Lines(input)) {
		lat = append(lat, r.Latency)
	}
	for _, row := range Histogram(lat, 30) {
		fmt.Println(string(row))
	}
}
