"""What each kind of decision means, where it comes from, and what one can do about it.

Shown at /kinds and linked from every group of decisions in a result. Kept next to the
view code (it is presentation); the kinds themselves are defined in worker/analysis.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.analysis import KINDS


@dataclass(frozen=True)
class KindHelp:
    kind: str
    title: str
    source: str  # which compiler output reports it
    meaning: str
    advice: str


GLOSSARY: tuple[KindHelp, ...] = (
    KindHelp(
        "moved-to-heap",
        "Moved to heap",
        "-m (escape analysis)",
        "A local variable outlives its function's stack frame (its address is returned, stored in a "
        "global, a heap object, a closure or an interface that escapes), so the compiler allocates it "
        "on the heap: one allocation each time the declaration runs, and work for the garbage collector.",
        "Open the decision to read the flow: each step is an assignment the compiler followed, ending "
        "where the value escapes. Return the value instead of its address, keep pointers out of "
        "long-lived places, or pass a buffer in from the caller.",
    ),
    KindHelp(
        "escapes-to-heap",
        "Escapes to heap",
        "-m (escape analysis)",
        "A value (a composite literal, a make, a new, a closure, a value converted to an interface) "
        "must be allocated on the heap because something that outlives the expression refers to it.",
        "Read the flow. Conversions to interfaces (fmt.Println's arguments, any) are a classic cause; "
        "so are slices whose size is not a constant.",
    ),
    KindHelp(
        "does-not-escape",
        "Does not escape",
        "-m (escape analysis)",
        "The value stays on the stack: no heap allocation. The compiler says so explicitly for values "
        "that could have escaped (parameters of closures, make, new, literals).",
        "Nothing to do; this is what you want in a hot path.",
    ),
    KindHelp(
        "leaking-param",
        "Leaking parameter",
        "-m (escape analysis)",
        "What a pointer parameter points to leaks: to the heap (the callee stores it somewhere that "
        "outlives the call) or to a result (it is returned). Callers' arguments then escape or flow "
        "into the result. 'leaking param content' means what the parameter points at leaks, not the "
        "pointer itself.",
        "A leak to the heap makes every caller's argument escape. A leak to a result is often harmless: "
        "it only matters if the caller's result escapes.",
    ),
    KindHelp(
        "escape-flow",
        "Escape explanation",
        "-m=2",
        "An explanation the compiler printed (a flow of assignments) that is not paired with a single "
        "decision in its output, for example a second path by which the same value escapes.",
        "Read it together with the decisions on the same line.",
    ),
    KindHelp(
        "closure-capture",
        "Closure capture",
        "-m=2",
        "A closure captures a variable by value (a copy, when the variable is never reassigned after "
        "capture and is small) or by reference (the closure and the function share it, which usually "
        "moves the variable to the heap if the closure escapes).",
        "Capture by reference of a loop variable was the classic bug before go1.22; since go1.22 each "
        "iteration has its own variable (choose the language version to compare).",
    ),
    KindHelp(
        "can-inline",
        "Can inline",
        "-m",
        "The function's body is cheap enough (cost at most 80 by default) to be copied into its callers. "
        "The cost is the compiler's estimate of the body's size.",
        "Inlining removes call overhead and lets escape analysis see through the call: a value returned "
        "by an inlined constructor can stay on the caller's stack.",
    ),
    KindHelp(
        "cannot-inline",
        "Cannot inline",
        "-m",
        "The function is never inlined, with the reason: its cost exceeds the budget, or it contains "
        "something the inliner refuses (recover, certain loops in old versions, go:noinline, …).",
        "Split the hot, small part into its own function, or move rare work (error formatting, panics) out of line.",
    ),
    KindHelp(
        "inlining-call",
        "Inlined call",
        "-m",
        "This call was replaced by the callee's body. Decisions and instructions that came from the "
        "callee are shown on this line and name the function they came from.",
        "Nothing to do; it is usually what you want.",
    ),
    KindHelp(
        "call-not-inlined",
        "Call not inlined here",
        "-json (optimization log)",
        "The callee can be inlined in general, but not at this call site: for example the caller is a "
        "'big' function (over 5000 nodes), where the budget per call drops to 20, or the call is "
        "recursive.",
        "Move the call into a smaller function, or split the big caller.",
    ),
    KindHelp(
        "devirtualized",
        "Devirtualized",
        "-m",
        "A call through an interface was turned into a direct call because the compiler knows the "
        "concrete type (and then it may be inlined too).",
        "Nothing to do; it means the interface costs nothing here.",
    ),
    KindHelp(
        "write-barrier",
        "Write barrier",
        "-d=wb",
        "A pointer is stored into memory the garbage collector may be scanning (a global, a heap "
        "object): while the collector runs, the store goes through a write barrier, a small extra "
        "cost on every such store.",
        "Stores into stack variables need none. In hot loops, storing indices or values instead of "
        "pointers avoids them.",
    ),
    KindHelp(
        "bounds-check",
        "Bounds check",
        "-d=ssa/check_bce/debug=1",
        "An index or slice expression whose bounds the compiler could not prove, so it kept a check "
        "(IsInBounds for an index, IsSliceInBounds for a slice expression) that panics when out of range.",
        "A hint before a loop, such as _ = s[3] or s = s[:n], lets the compiler prove the later "
        "accesses and drop their checks (compare the two versions to see it).",
    ),
    KindHelp(
        "nil-check",
        "Nil check",
        "-d=nil",
        "A pointer dereference the compiler guards with an explicit nil check. Checks it could prove "
        "unnecessary are reported as removed and not counted.",
        "Usually cheap; repeated checks in a loop can be hoisted by dereferencing once before it.",
    ),
    KindHelp(
        "loop-var",
        "Loop variable",
        "-d=loopvar=2 (go1.22+)",
        "Since go1.22 each loop iteration has its own variable. The compiler says which per-iteration "
        "variables it had to allocate on the heap (because a closure or pointer captured them) and which "
        "stay on the stack.",
        "A heap-allocated loop variable costs an allocation per iteration: check what captures it.",
    ),
    KindHelp(
        "large-copy",
        "Large copy",
        "-json (optimization log)",
        "A copy of 128 bytes or more: an assignment, or an argument or result passed by value.",
        "Pass large structs by pointer in hot paths, or keep the large part behind a pointer.",
    ),
    KindHelp(
        "heap-alloc-call",
        "Heap allocation in the assembly",
        "-S (assembly)",
        "A call to a runtime function that allocates (runtime.newobject, makeslice, growslice, the "
        "convT family for interface conversions, mallocgc variants, …), found in the assembly and "
        "mapped back to this line. It is the allocation the escape decisions predict, and also shows "
        "allocations they do not name, such as append growing a slice.",
        "Preallocate slices with make(…, 0, n); avoid converting values to interfaces in hot paths.",
    ),
    KindHelp(
        "prove",
        "Proved by the prove pass",
        "-d=ssa/prove/debug=1 (a flag)",
        "The prove pass showed a condition always holds (Proved IsInBounds: the bounds check here was "
        "removed) or never does, or found an induction variable with its limits.",
        "Compare with the bounds checks kept (the bounds kind): an early length check such as "
        "_ = s[n-1] lets the prover remove the ones after it.",
    ),
    KindHelp(
        "defer",
        "Defer",
        "-d=defer=1 (a flag)",
        "How a defer statement was compiled: open-coded (inline at each return, nearly free), "
        "stack-allocated, or heap-allocated (a defer in a loop).",
        "Keep defers out of loops, and at most 8 per function, so they can be open-coded.",
    ),
    KindHelp(
        "closure",
        "Closure",
        "-d=closure=1 (a flag)",
        "Where a function literal's closure lives: on the stack (it does not escape), on the heap "
        "(it escapes, with the variables it captures), or as a global (it captures nothing).",
        "A closure that escapes allocates each time it is created: hoist it, or capture less.",
    ),
    KindHelp(
        "append",
        "Append",
        "-d=append=1 (a flag)",
        "How an append was compiled, e.g. a length-only update of a local slice.",
        "Read it next to the heap decisions of the slice being appended to.",
    ),
    KindHelp(
        "liveness",
        "Liveness",
        "-live (a flag)",
        "The variables live (holding pointers the garbage collector must scan) at a call or at the "
        "function's entry, and the stack objects of the frame.",
        "Fewer live pointers at calls means smaller stack maps and less GC work; shorten lifetimes.",
    ),
    KindHelp(
        "param-use",
        "Parameter mutated or called",
        "-d=escapemutationscalls=1 (a flag, Go 1.23+)",
        "Escape analysis noticed the function writes through a parameter (mutates) or calls it; it "
        "complements 'does not escape, mutate, or call'.",
        "A parameter that is neither mutated nor called lets callers pass more values without copies.",
    ),
    KindHelp(
        "interface-conversion",
        "Interface conversion from a global",
        "-d=escapedebug=1 (a flag, Go 1.22+)",
        "Converting a constant or read-only value to an interface uses a global instead of a heap allocation.",
        "Nothing to do: it is the cheap case. Conversions of other values allocate (heap-alloc-call).",
    ),
    KindHelp(
        "error",
        "Compile error",
        "the compiler",
        "The program does not compile; no other decision can be trusted until it does.",
        "Fix the error; only the standard library can be imported here.",
    ),
    KindHelp(
        "other",
        "Other",
        "any",
        "A line the compiler printed that Escape Explorer does not classify (perhaps new in this Go "
        "version). It is shown verbatim, never dropped.",
        "Read it as the compiler wrote it.",
    ),
)

assert {h.kind for h in GLOSSARY} == set(KINDS), "every kind needs its glossary entry"
