// Escape Explorer's code editor: CodeMirror 6 with Go, bundled as one IIFE.
// Exposes window.EscapeEditor.create({parent, textarea, onSubmit, readOnly, panel, onChip}).
// Besides editing, it shows the compiler's decisions on the user's lines: chips in a gutter
// of their own, an underline at each decision's column, a panel under the text (filled by
// the page), all mapped through later edits (see "Decisions" below).
import { EditorState, StateEffect, StateField, Compartment, RangeSetBuilder, RangeSet, ChangeSet } from "@codemirror/state";
import {
  EditorView, Decoration, keymap, lineNumbers, highlightActiveLine,
  highlightActiveLineGutter, drawSelection, highlightSpecialChars, gutter, GutterMarker, showPanel,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import {
  HighlightStyle, syntaxHighlighting, bracketMatching, indentOnInput, indentUnit,
} from "@codemirror/language";
import { tags as t } from "@lezer/highlight";
import { go } from "@codemirror/lang-go";

// Token colours: CSS variables (set by explorer.css) with fallbacks, per theme.
function tokenStyle(dark) {
  const c = (name, light, darkColour) => `var(--tok-${name}, ${dark ? darkColour : light})`;
  return HighlightStyle.define([
    { tag: [t.keyword, t.controlKeyword, t.definitionKeyword, t.moduleKeyword], color: c("keyword", "#a626a4", "#c678dd") },
    { tag: [t.string, t.special(t.string), t.character], color: c("string", "#50a14f", "#98c379") },
    { tag: [t.number, t.bool, t.null], color: c("number", "#986801", "#d19a66") },
    { tag: [t.lineComment, t.blockComment, t.comment], color: c("comment", "#6a737d", "#7f848e"), fontStyle: "italic" },
    { tag: [t.typeName, t.standard(t.typeName)], color: c("type", "#0184bc", "#56b6c2") },
    { tag: [t.function(t.variableName), t.function(t.definition(t.variableName)), t.function(t.propertyName)], color: c("function", "#4078f2", "#61afef") },
    { tag: [t.definition(t.variableName)], color: c("definition", "#e45649", "#e06c75") },
    { tag: [t.operator, t.punctuation], color: c("operator", "#383a42", "#abb2bf") },
  ], { themeType: dark ? "dark" : "light" });
}

const baseTheme = EditorView.baseTheme({
  "&": { fontSize: "inherit", height: "100%" },
  ".cm-scroller": { fontFamily: "var(--font-mono, ui-monospace, SFMono-Regular, Menlo, Consolas, monospace)", lineHeight: "1.5" },
  "&light": { backgroundColor: "var(--editor-bg, #fff)", color: "var(--editor-fg, #1f2328)" },
  "&dark": { backgroundColor: "var(--editor-bg, #16181d)", color: "var(--editor-fg, #d7dae0)" },
  "&light .cm-gutters": { backgroundColor: "var(--gutter-bg, #f6f8fa)", color: "var(--gutter-fg, #6e7781)", borderRight: "1px solid var(--border, #d0d7de)" },
  "&dark .cm-gutters": { backgroundColor: "var(--gutter-bg, #1c1f26)", color: "var(--gutter-fg, #7d8590)", borderRight: "1px solid var(--border, #30363d)" },
  "&light .cm-content": { caretColor: "#000" },
  "&dark .cm-content": { caretColor: "#fff" },
  "&dark .cm-cursor": { borderLeftColor: "#fff" },
  "&light .cm-activeLine": { backgroundColor: "rgba(0, 0, 0, 0.035)" },
  "&dark .cm-activeLine": { backgroundColor: "rgba(255, 255, 255, 0.04)" },
  "&light.cm-focused .cm-selectionBackground, &light .cm-selectionBackground": { backgroundColor: "#b6d7ff" },
  "&dark.cm-focused .cm-selectionBackground, &dark .cm-selectionBackground": { backgroundColor: "#2f4a6b" },
  "&light .cm-matchingBracket": { backgroundColor: "#d4f0d4", outline: "1px solid #6bbf6b" },
  "&dark .cm-matchingBracket": { backgroundColor: "#2d4a2d", outline: "1px solid #5a9a5a" },
  ".cm-ee-highlight": { backgroundColor: "var(--line-highlight, rgba(255, 212, 0, 0.28))" },
  "&.cm-focused": { outline: "2px solid var(--focus, #0969da)", outlineOffset: "-2px" },
});

// Highlighted line range, set from outside (flow steps, assembly, #L anchors).
const setHighlight = StateEffect.define();
const highlightField = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(setHighlight)) continue;
      const { from, to } = e.value;
      const doc = tr.state.doc;
      if (!from || from < 1 || from > doc.lines) { deco = Decoration.none; continue; }
      const builder = new RangeSetBuilder();
      const mark = Decoration.line({ class: "cm-ee-highlight" });
      for (let n = from; n <= Math.min(to || from, doc.lines); n++) builder.add(doc.line(n).from, doc.line(n).from, mark);
      deco = builder.finish();
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});


// ---------- Decisions ----------
//
// The page gives the decisions of a compile as lines of the text that was compiled (a
// snapshot). Each line becomes an item in the current document: {from, to} (the line's
// extent), origLine (its number in the compiled text), file and fileLine (where the
// annotated view has it), kinds [{kind, label}] (gutter chips, in the page's order),
// marks [{kind, from, to, message}] (underlines) and stale. Every later change maps the
// items: a line whose own text changed goes stale (dimmed until the next compile), the
// others keep their decisions on their lines wherever edits above move them, and a line
// removed with its line break takes its decisions along.

const setDecisionsEffect = StateEffect.define();
const setHiddenKindsEffect = StateEffect.define();

// The lines of newDoc whose text one change altered, as [first, last] line numbers, or
// null when it only inserted or removed whole lines (their neighbours are untouched).
function editedRange(fromA, toA, fromB, toB, inserted, oldDoc, newDoc) {
  const removed = oldDoc.sliceString(fromA, toA);
  const added = inserted.toString();
  const startLine = oldDoc.lineAt(fromA);
  if (startLine.from === fromA && (!removed || removed.endsWith("\n")) && (!added || added.endsWith("\n"))) {
    return added ? [newDoc.lineAt(fromB).number, newDoc.lineAt(toB - 1).number] : null;
  }
  if (startLine.to === fromA && oldDoc.lineAt(toA).to === toA &&
      (!removed || removed.startsWith("\n")) && (!added || added.startsWith("\n"))) {
    return added ? [newDoc.lineAt(fromB + 1).number, newDoc.lineAt(toB).number] : null;
  }
  return [newDoc.lineAt(fromB).number, newDoc.lineAt(toB).number];
}

function mapItems(items, changes, oldDoc, newDoc) {
  if (!items.length || changes.empty) return items;
  const edited = [], deletions = [];
  changes.iterChanges((fromA, toA, fromB, toB, inserted) => {
    if (toA > fromA) deletions.push([fromA, toA]);
    const range = editedRange(fromA, toA, fromB, toB, inserted, oldDoc, newDoc);
    if (range) edited.push(range);
  });
  const out = [];
  for (const item of items) {
    // gone: a deletion that holds the line's text and one of its line breaks
    if (deletions.some(([a, b]) => a <= item.from && b >= item.to && (a < item.from || b > item.to))) continue;
    const line = newDoc.lineAt(changes.mapPos(item.from, 1));
    const stale = item.stale || edited.some(([a, b]) => line.number >= a && line.number <= b);
    const marks = item.marks.map((m) => {
      const from = changes.mapPos(m.from, 1);
      return { ...m, from, to: Math.max(from, changes.mapPos(m.to, -1)) };
    });
    out.push({ ...item, from: line.from, to: line.to, stale, marks });
  }
  return out;
}

// A Go column counts bytes of UTF-8 from 1; CodeMirror counts UTF-16 units from 0.
function byteColumnToOffset(text, column) {
  let bytes = 0, i = 0;
  while (i < text.length && bytes < column - 1) {
    const cp = text.codePointAt(i);
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

const WORD = /^[&*]*[\p{L}\p{N}_]+/u;
const CALLEE = /[\p{L}\p{N}_.]+$/u;

// The text a decision at `offset` is about: the word there (with a leading & or *), or a
// call's or an index's opening bracket with the name before it (`newT(`, `s[`).
function markRange(text, offset) {
  const word = WORD.exec(text.slice(offset));
  if (word) return [offset, offset + word[0].length];
  if ("([{".includes(text[offset])) {
    const name = CALLEE.exec(text.slice(0, offset));
    if (name) return [offset - name[0].length, offset + 1];
  }
  return [offset, offset + 1];
}

// Items of the compiled text `doc` from the page's lines.
function itemsFrom(lines, doc) {
  const items = [];
  for (const l of lines) {
    if (!(l.line >= 1 && l.line <= doc.lines)) continue;
    const line = doc.line(l.line);
    const marks = [];
    for (const d of l.decisions || []) {
      if (!d.column) continue;
      const offset = byteColumnToOffset(line.text, d.column);
      if (offset >= line.text.length) continue;
      const [start, end] = markRange(line.text, offset);
      marks.push({ kind: d.kind, message: d.message || "", from: line.from + start, to: line.from + end });
    }
    items.push({
      from: line.from, to: line.to, origLine: l.line, file: l.file || "", fileLine: l.fileLine || l.line,
      kinds: l.kinds || [], messages: l.messages || {}, marks, stale: false,
    });
  }
  return items;
}

function iconNode(kind) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(ns, "use");
  use.setAttribute("href", `#ki-${kind}`);
  svg.appendChild(use);
  return svg;
}

// One line's chips in the gutter: each carries data-line (its line now) and data-kind.
class ChipsMarker extends GutterMarker {
  constructor(line, chips) {
    super();
    this.line = line;
    this.chips = chips;
    this.key = `${line}|` + chips.map((c) => `${c.kind}${c.stale ? "~" : ""}:${c.title}`).join("|");
  }
  eq(other) { return other.key === this.key; }
  toDOM() {
    const wrap = document.createElement("span");
    wrap.className = "cm-ee-chips";
    for (const c of this.chips) {
      const chip = document.createElement("span");
      chip.className = "marker cm-ee-chip" + (c.stale ? " cm-ee-stale" : "");
      chip.dataset.line = String(this.line);
      chip.dataset.kind = c.kind;
      chip.title = c.title;
      chip.appendChild(iconNode(c.kind));
      wrap.appendChild(chip);
    }
    return wrap;
  }
}

// The gutter's width before any decision: one chip's.
class SpacerMarker extends GutterMarker {
  toDOM() {
    const wrap = document.createElement("span");
    wrap.className = "cm-ee-chips";
    const chip = document.createElement("span");
    chip.className = "marker cm-ee-spacer";
    chip.appendChild(iconNode("other"));
    wrap.appendChild(chip);
    return wrap;
  }
}

const STALE_NOTE = " (this line changed since the compile)";

function buildSets(items, hidden, doc) {
  const gutterRanges = [], markRanges = [];
  const byLine = new Map();
  for (const item of items) {
    if (!byLine.has(item.from)) byLine.set(item.from, []);
    byLine.get(item.from).push(item);
  }
  for (const [from, lineItems] of [...byLine].sort((a, b) => a[0] - b[0])) {
    const chips = new Map();
    for (const item of lineItems) {
      for (const k of item.kinds) {
        if (hidden.has(k.kind)) continue;
        const messages = item.messages[k.kind] || [];
        const title = `${k.label}: ${messages.join("; ")}` + (item.stale ? STALE_NOTE : "");
        const seen = chips.get(k.kind);
        if (!seen) chips.set(k.kind, { kind: k.kind, stale: item.stale, title });
        else if (item.stale) seen.stale = true;
      }
    }
    if (chips.size) gutterRanges.push(new ChipsMarker(doc.lineAt(from).number, [...chips.values()]).range(from));
  }
  for (const item of items) {
    for (const m of item.marks) {
      if (hidden.has(m.kind) || m.to <= m.from || m.to > doc.length) continue;
      markRanges.push(Decoration.mark({
        class: "cm-ee-under" + (item.stale ? " cm-ee-stale" : ""),
        attributes: { "data-kind": m.kind, title: m.message + (item.stale ? STALE_NOTE : "") },
      }).range(m.from, m.to));
    }
  }
  return { gutter: RangeSet.of(gutterRanges, true), deco: Decoration.set(markRanges, true) };
}

const emptySets = { gutter: RangeSet.empty, deco: Decoration.none };

const decisionsField = StateField.define({
  create: () => ({ items: [], hidden: new Set(), ...emptySets }),
  update(value, tr) {
    let { items, hidden } = value;
    let dirty = false;
    if (tr.docChanged && items.length) {
      items = mapItems(items, tr.changes, tr.startState.doc, tr.state.doc);
      dirty = true;
    }
    for (const e of tr.effects) {
      if (e.is(setDecisionsEffect)) { items = e.value; dirty = true; }
      if (e.is(setHiddenKindsEffect)) { hidden = new Set(e.value); dirty = true; }
    }
    if (!dirty) return value;
    return { items, hidden, ...(items.length ? buildSets(items, hidden, tr.state.doc) : emptySets) };
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.deco),
});

function decisionsGutter(onChip) {
  return gutter({
    class: "cm-ee-gutter",
    markers: (view) => view.state.field(decisionsField).gutter,
    initialSpacer: () => new SpacerMarker(),
    domEventHandlers: {
      click(view, block, event) {
        const chip = event.target.closest && event.target.closest(".cm-ee-chip");
        if (!chip || !onChip) return false;
        onChip({ line: view.state.doc.lineAt(block.from).number, kind: chip.dataset.kind });
        return true;
      },
    },
  });
}

const LOG_LIMIT = 500; // changes remembered to place the answer of a compile sent that long ago

function create({ parent, textarea, onSubmit, readOnly = false, panel = null, onChip = null } = {}) {
  if (!parent) throw new Error("EscapeEditor.create: parent is required");
  const cursorCallbacks = [], changeCallbacks = [];
  let lastCursorLine = 0;
  // Every change, numbered, so that a compile's answer can be placed on the text as it is now.
  let version = 0;
  const log = [];
  let applied = null; // {doc, changes}: the compiled text of the decisions shown, and the edits since
  const setPanelEffect = StateEffect.define();
  const panelField = StateField.define({
    create: () => false,
    update(open, tr) {
      for (const e of tr.effects) if (e.is(setPanelEffect)) open = e.value;
      return open;
    },
    provide: (f) => showPanel.from(f, (open) => (open && panel ? () => ({ dom: panel, top: false }) : null)),
  });
  const dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  const themeMode = new Compartment();
  const label = textarea && (textarea.getAttribute("aria-label") ||
    (textarea.labels && textarea.labels[0] && textarea.labels[0].textContent.trim())) || "Go source";

  const submitKey = { key: "Mod-Enter", preventDefault: true, run: () => { if (onSubmit) onSubmit(); return true; } };
  // The page's CSP allows <style> elements only with its nonce (CodeMirror injects its styles).
  const nonceMeta = document.querySelector('meta[name="csp-nonce"]');
  const extensions = [
    nonceMeta ? EditorView.cspNonce.of(nonceMeta.content) : [],
    lineNumbers(), highlightActiveLineGutter(), highlightActiveLine(), highlightSpecialChars(),
    history(), drawSelection(), indentOnInput(), bracketMatching(),
    indentUnit.of("\t"), EditorState.tabSize.of(4),
    go(), syntaxHighlighting(tokenStyle(false)), syntaxHighlighting(tokenStyle(true)),
    themeMode.of(EditorView.darkTheme.of(!!(dark && dark.matches))),
    baseTheme, highlightField, decisionsField, decisionsGutter(onChip), panelField,
    keymap.of([submitKey, ...defaultKeymap, ...historyKeymap, indentWithTab]),
    EditorView.contentAttributes.of({ "aria-label": label }),
    EditorState.readOnly.of(!!readOnly),
    EditorView.updateListener.of((update) => {
      if (update.docChanged) {
        version += 1;
        log.push({ version, changes: update.changes, oldDoc: update.startState.doc, newDoc: update.state.doc });
        if (log.length > LOG_LIMIT) log.shift();
        if (applied) applied.changes = applied.changes.compose(update.changes);
        if (textarea) {
          textarea.value = update.state.doc.toString();
          textarea.dispatchEvent(new Event("input", { bubbles: true }));
        }
        for (const cb of changeCallbacks) cb();
      }
      if (update.selectionSet || update.docChanged) {
        const line = update.state.doc.lineAt(update.state.selection.main.head).number;
        if (line !== lastCursorLine) {
          lastCursorLine = line;
          for (const cb of cursorCallbacks) cb(line);
        }
      }
    }),
  ];

  const view = new EditorView({
    parent,
    state: EditorState.create({ doc: textarea ? textarea.value : "", extensions }),
  });
  if (dark && dark.addEventListener) {
    dark.addEventListener("change", (e) =>
      view.dispatch({ effects: themeMode.reconfigure(EditorView.darkTheme.of(e.matches)) }));
  }
  if (textarea) textarea.hidden = true; // still in the form, still posted

  const lineStart = (n) => view.state.doc.line(Math.max(1, Math.min(n, view.state.doc.lines))).from;
  const clampLine = (doc, n) => Math.max(1, Math.min(n, doc.lines));
  const currentItems = () => view.state.field(decisionsField).items;
  const describe = (item) => ({
    line: view.state.doc.lineAt(item.from).number, from: item.from, origLine: item.origLine, file: item.file,
    fileLine: item.fileLine, stale: item.stale, kinds: item.kinds.map((k) => k.kind),
    marks: item.marks.map((m) => ({ kind: m.kind, from: m.from, to: m.to })),
  });
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue(text) {
      // only the part that differs: decisions on the lines around it stay where they are
      const old = view.state.doc.toString();
      if (old === text) return;
      let start = 0;
      while (start < old.length && start < text.length && old[start] === text[start]) start++;
      let end = 0;
      while (end < old.length - start && end < text.length - start &&
             old[old.length - 1 - end] === text[text.length - 1 - end]) end++;
      view.dispatch({ changes: { from: start, to: old.length - end, insert: text.slice(start, text.length - end) } });
    },
    // The text as it is now, to hand back with the decisions of its compile.
    snapshot: () => ({ doc: view.state.doc, version }),
    // lines: [{line, file, fileLine, kinds: [{kind, label}], messages: {kind: [text]},
    //          decisions: [{kind, column, message}]}], numbered in the snapshot's text.
    setDecisions(lines, snap) {
      let items = itemsFrom(lines, snap.doc);
      let changes = ChangeSet.empty(snap.doc.length);
      const pending = log.filter((e) => e.version > snap.version);
      if (snap.version === version) {
        applied = { doc: snap.doc, changes };
      } else if (pending.length === version - snap.version && pending[0].oldDoc === snap.doc) {
        for (const e of pending) {
          items = mapItems(items, e.changes, e.oldDoc, e.newDoc);
          changes = changes.compose(e.changes);
        }
        applied = { doc: snap.doc, changes };
      } else {
        // older than the changes remembered: shown on the same line numbers, all stale
        items = itemsFrom(lines.filter((l) => l.line <= view.state.doc.lines), view.state.doc)
          .map((item) => ({ ...item, stale: true }));
        applied = null;
      }
      view.dispatch({ effects: setDecisionsEffect.of(items) });
    },
    clearDecisions() {
      applied = null;
      view.dispatch({ effects: setDecisionsEffect.of([]) });
    },
    decisions: () => currentItems().map(describe),
    decisionsOnLine(n) {
      const from = lineStart(n);
      return currentItems().filter((item) => item.from === from).map(describe);
    },
    setHiddenKinds(kinds) { view.dispatch({ effects: setHiddenKindsEffect.of(kinds) }); },
    // Line numbers between the compiled text of the decisions shown and the text now.
    toCompiledLine(n) {
      if (!applied) return n;
      const old = applied.changes.invertedDesc.mapPos(lineStart(n), -1);
      return applied.doc.lineAt(Math.min(old, applied.doc.length)).number;
    },
    toCurrentLine(n) {
      if (!applied) return n;
      const pos = applied.changes.mapPos(applied.doc.line(clampLine(applied.doc, n)).from, 1);
      return view.state.doc.lineAt(pos).number;
    },
    cursorLine: () => view.state.doc.lineAt(view.state.selection.main.head).number,
    // Cursor to line n (at the position `at` when given), scrolled to the middle.
    goto(n, at) {
      const pos = at != null ? Math.min(at, view.state.doc.length) : lineStart(n);
      view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: "center" }) });
    },
    setPanelOpen(open) {
      if (view.state.field(panelField) !== !!open) view.dispatch({ effects: setPanelEffect.of(!!open) });
    },
    panelOpen: () => view.state.field(panelField),
    onChange(cb) { changeCallbacks.push(cb); },
    focus: () => view.focus(),
    highlightLines(from, to) {
      view.dispatch({ effects: setHighlight.of({ from: from || 0, to: to || from || 0 }) });
    },
    scrollToLine(n) {
      view.dispatch({ effects: EditorView.scrollIntoView(lineStart(n), { y: "center" }) });
    },
    onCursorLine(cb) { cursorCallbacks.push(cb); },
    destroy() {
      view.destroy();
      if (textarea) textarea.hidden = false;
    },
  };
}

window.EscapeEditor = { create };
