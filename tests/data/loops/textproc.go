// A small text-processing toolkit: tokenizing, counting, CSV, wrapping, templating.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
)

type Token struct {
	Kind  int
	Text  string
	Line  int
	Start int
}

const (
	Word = iota
	Number
	Punct
	Space
)

type Counter struct {
	counts map[string]int
	order  []string
}

func NewCounter() *Counter {
	return &Counter{counts: make(map[string]int)}
}

func (c *Counter) Add(w string) {
	if _, ok := c.counts[w]; !ok {
		c.order = append(c.order, w)
	}
	c.counts[w]++
}

func (c *Counter) Top(n int) []string {
	words := make([]string, len(c.order))
	copy(words, c.order)
	sort.Slice(words, func(i, j int) bool {
		if c.counts[words[i]] != c.counts[words[j]] {
			return c.counts[words[i]] > c.counts[words[j]]
		}
		return words[i] < words[j]
	})
	if len(words) > n {
		words = words[:n]
	}
	return words
}

func classify(r rune) int {
	switch {
	case unicode.IsLetter(r):
		return Word
	case unicode.IsDigit(r):
		return Number
	case unicode.IsSpace(r):
		return Space
	}
	return Punct
}

func Tokenize(src string) []Token {
	var toks []Token
	line := 1
	start := -1
	kind := -1
	for i, r := range src {
		k := classify(r)
		if k != kind || k == Punct {
			if start >= 0 && kind != Space {
				toks = append(toks, Token{Kind: kind, Text: src[start:i], Line: line, Start: start})
			}
			start, kind = i, k
		}
		if r == '\n' {
			line++
		}
	}
	if start >= 0 && kind != Space {
		toks = append(toks, Token{Kind: kind, Text: src[start:], Line: line, Start: start})
	}
	return toks
}

func CountWords(toks []Token) *Counter {
	c := NewCounter()
	for _, t := range toks {
		if t.Kind != Word {
			continue
		}
		c.Add(strings.ToLower(t.Text))
	}
	return c
}

var ErrQuote = errors.New("unterminated quote")

func ParseCSVLine(line string) ([]string, error) {
	var fields []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case inQuote && ch == '"':
			if i+1 < len(line) && line[i+1] == '"' {
				cur.WriteByte('"')
				i++
				continue
			}
			inQuote = false
		case inQuote:
			cur.WriteByte(ch)
		case ch == '"':
			inQuote = true
		case ch == ',':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(ch)
		}
	}
	if inQuote {
		return nil, ErrQuote
	}
	fields = append(fields, cur.String())
	return fields, nil
}

func ParseCSV(text string) ([][]string, error) {
	var rows [][]string
	lines := strings.Split(text, "\n")
	for n, line := range lines {
		if strings.TrimSpace(line) == "" {
			continue
		}
		row, err := ParseCSVLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func Wrap(text string, width int) []string {
	var out []string
	words := strings.Fields(text)
	cur := ""
	for _, w := range words {
		switch {
		case cur == "":
			cur = w
		case len(cur)+1+len(w) <= width:
			cur += " " + w
		default:
			out = append(out, cur)
			cur = w
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

func Expand(tmpl string, vars map[string]string) string {
	var b strings.Builder
	i := 0
outer:
	for i < len(tmpl) {
		if tmpl[i] == '$' && i+1 < len(tmpl) && tmpl[i+1] == '{' {
			for j := i + 2; j < len(tmpl); j++ {
				if tmpl[j] == '}' {
					b.WriteString(vars[tmpl[i+2:j]])
					i = j + 1
					continue outer
				}
			}
			break outer
		}
		b.WriteByte(tmpl[i])
		i++
	}
	b.WriteString(tmpl[i:])
	return b.String()
}

func Columns(rows [][]string) []int {
	var widths []int
	for _, row := range rows {
		for len(widths) < len(row) {
			widths = append(widths, 0)
		}
		for i, cell := range row {
			if len(cell) > widths[i] {
				widths[i] = len(cell)
			}
		}
	}
	return widths
}

func Render(rows [][]string) string {
	widths := Columns(rows)
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			b.WriteString(cell)
			for pad := len(cell); pad < widths[i]+1; pad++ {
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func Reverse(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

func Dedup(lines []string) []string {
	seen := map[string]bool{}
	out := lines[:0]
	for _, l := range lines {
		if seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return out
}

func main() {
	src := "the quick brown fox, the lazy dog; 42 foxes\nand the end"
	toks := Tokenize(src)
	c := CountWords(toks)
	fmt.Println(c.Top(3))
	rows, err := ParseCSV("a,b,\"c,d\"\n1,2,3\n")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Print(Render(rows))
	for _, l := range Wrap(src, 20) {
		fmt.Println(l)
	}
	fmt.Println(Expand("hello ${name}!", map[string]string{"name": "gopher"}))
	fmt.Println(Reverse("hello"), Dedup([]string{"a", "b", "a"}))
}
