// errorcheck -0 -d=escapedebug=1

//go:build go1.22

// -d=escapedebug=1 (Go 1.22+): interface conversions that use a read-only global
// for the data word instead of allocating.

package dataword

var sink any

func str() {
	sink = "hello" // ERROR "convert: using global for interface value: .stmp_[0-9]+$"
}

func small() {
	v := 7
	sink = v // ERROR "using global for interface value"
}

func oneByte() {
	b := byte(3)
	sink = b // ERROR "using global for single-byte interface value"
}

func zeroSized() {
	sink = struct{}{} // ERROR "using global for zero-sized interface value"
}
