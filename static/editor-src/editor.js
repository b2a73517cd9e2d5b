// Escape Explorer's code editor: CodeMirror 6 with Go, bundled as one IIFE.
// Exposes window.EscapeEditor.create({parent, textarea, onSubmit, readOnly}).
import { EditorState, StateEffect, StateField, Compartment, RangeSetBuilder } from "@codemirror/state";
import {
  EditorView, Decoration, keymap, lineNumbers, highlightActiveLine,
  highlightActiveLineGutter, drawSelection, highlightSpecialChars,
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

function create({ parent, textarea, onSubmit, readOnly = false } = {}) {
  if (!parent) throw new Error("EscapeEditor.create: parent is required");
  const cursorCallbacks = [];
  let lastCursorLine = 0;
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
    baseTheme, highlightField,
    keymap.of([submitKey, ...defaultKeymap, ...historyKeymap, indentWithTab]),
    EditorView.contentAttributes.of({ "aria-label": label }),
    EditorState.readOnly.of(!!readOnly),
    EditorView.updateListener.of((update) => {
      if (update.docChanged && textarea) {
        textarea.value = update.state.doc.toString();
        textarea.dispatchEvent(new Event("input", { bubbles: true }));
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
  return {
    view,
    getValue: () => view.state.doc.toString(),
    setValue(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
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
