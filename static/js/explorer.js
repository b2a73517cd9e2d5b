// Escape Explorer: the playground's behaviour on top of server-rendered HTML.
// Everything here is an enhancement: without JavaScript the form posts and the
// permalink page renders the same result.
(function () {
  "use strict";

  const DRAFT_KEY = "escape-explorer:draft";
  const AUTO_KEY = "escape-explorer:auto-compile";
  const PANES_KEY = "escape-explorer:panes";
  const DEBOUNCE_MS = 700;
  const HEAP_KINDS = new Set(["moved-to-heap", "escapes-to-heap", "heap-alloc-call"]);
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const hiddenKinds = new Set();
  let editor = null;
  let anchorStart = null; // first line of a shift-click range
  let focusKind = "";     // the kind of the decision last visited or focused

  // ---------- Compiles: who asked, for which text, which answer is shown ----------
  //
  // Each compile request (the button, Ctrl+Enter, an example, or the automatic one after
  // a pause in typing) gets a number when htmx sends it, and remembers the editor's text
  // at that moment (a snapshot, to place its decisions on the text as it is when the
  // answer comes). An answer older than the newest request sent is dropped, so a slow
  // answer for an older text never replaces a newer one.

  let seq = 0;              // number of the newest compile request sent
  let inflight = null;      // {xhr, seq, key, auto} of the compile request on its way
  let shown = null;         // the request whose answer is shown: {seq, key, snap, files}
  let swapping = null;      // the request whose answer is being swapped in
  let autoNext = false;     // the next compile request is an automatic one
  let autoTimer = 0;
  let pausedUntil = 0;      // automatic compiles wait after a 429 until then (Retry-After)
  let dropped = 0;          // answers dropped for being older than the newest request
  const requestInfo = new WeakMap(); // xhr -> request info

  // ---------- Editor, draft, controls ----------

  function initEditor() {
    const form = $("#compile-form");
    const textarea = $("#source");
    if (!form || !textarea) return;
    const onRoot = location.pathname === "/" && !location.search;
    const draft = onRoot ? loadDraft() : null;
    if (draft) restoreDraft(form, textarea, draft);
    if (window.EscapeEditor) {
      const host = $("#editor");
      host.hidden = false;
      editor = window.EscapeEditor.create({
        parent: host, textarea, onSubmit: () => form.requestSubmit(), panel: createPanel(),
        onChip: ({ line, kind }) => openPanel(line, kind, { moveCursor: true }),
      });
      editor.onCursorLine((line) => {
        highlightLine(line, { fromEditor: true });
        if (editor.panelOpen()) renderPanel(line);
      });
      editor.onChange(() => {
        scheduleAuto();
        if (editor.panelOpen()) renderPanel(editor.cursorLine());
      });
      // the editable area is the editor's one tab stop (and makes its scroller keyboard-reachable)
      const content = host.querySelector(".cm-content");
      if (content) content.tabIndex = 0;
      window.escapeExplorer = { editor, state: () => ({
        seq, shownSeq: shown ? shown.seq : 0, shownAuto: !!(shown && shown.auto), inflight: !!inflight, dropped,
      }) };
    } else {
      textarea.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
      });
    }
    let timer = 0;
    const save = () => { clearTimeout(timer); timer = setTimeout(() => saveDraft(form), 300); };
    textarea.addEventListener("input", save);
    form.addEventListener("change", save);
    form.addEventListener("change", (e) => { if (e.target.name) scheduleAuto(); });
    form.addEventListener("input", (e) => { if (e.target.matches('input[type="text"]')) scheduleAuto(); });
    initControls(form);
    initAutoSwitch();
  }

  function loadDraft() {
    try { return JSON.parse(localStorage.getItem(DRAFT_KEY) || "null"); } catch { return null; }
  }

  function saveDraft(form) {
    const data = new FormData(form);
    const draft = { source: data.get("source"), go: data.get("go"), goarch: data.get("goarch"), lang: data.get("lang"), groups: data.getAll("groups") };
    try { localStorage.setItem(DRAFT_KEY, JSON.stringify(draft)); } catch { /* private mode: no draft */ }
  }

  function restoreDraft(form, textarea, draft) {
    if (typeof draft.source === "string" && draft.source.trim()) textarea.value = draft.source;
    setSelect(form.elements.go, draft.go);
    updateGoarches(form);
    setSelect(form.elements.goarch, draft.goarch);
    setSelect(form.elements.lang, draft.lang);
    if (Array.isArray(draft.groups) && draft.groups.length) {
      for (const box of $$('input[name="groups"]', form)) box.checked = draft.groups.includes(box.value);
    }
  }

  function setSelect(select, value) {
    if (select && value != null && Array.from(select.options).some((o) => o.value === value)) select.value = value;
  }

  function updateGoarches(form) {
    const go = form.elements.go, arch = form.elements.goarch;
    const option = go && go.selectedOptions[0];
    if (!option || !arch) return;
    const current = arch.value;
    arch.replaceChildren(...option.dataset.goarches.split(" ").filter(Boolean).map((a) => new Option(a, a, false, a === current)));
    if (!arch.value && arch.options.length) arch.value = arch.options[0].value;
    const lang = form.elements.lang;
    if (!lang) return;
    lang.options[0].textContent = `toolchain default (${option.dataset.lang})`;
    // a toolchain knows no language version newer than its own
    const minor = (v) => parseInt(v.replace("go1.", ""), 10);
    const newest = minor(option.dataset.lang);
    for (const o of Array.from(lang.options).slice(1)) o.disabled = minor(o.value) > newest;
    if (lang.selectedOptions[0] && lang.selectedOptions[0].disabled) lang.value = "";
  }

  function initControls(form) {
    updateGoarches(form);
    form.elements.go.addEventListener("change", () => updateGoarches(form));

    const examples = $("#example-select");
    if (examples) {
      examples.hidden = false;
      examples.addEventListener("change", () => {
        const option = examples.selectedOptions[0];
        examples.value = "";
        if (!option || !option.value) return;
        const current = getSource();
        const isExample = Array.from(examples.options).some((o) => o.dataset.source === current);
        if (current.trim() && !isExample && !confirm(`Replace your program with the example “${option.textContent}”?`)) return;
        setSource(option.dataset.source);
        form.elements.lang.value = option.dataset.lang || "";
        saveDraft(form);
        form.requestSubmit();
      });
    }

    const format = $("#format-button");
    if (format) {
      format.hidden = false;
      format.addEventListener("click", () => formatSource(form, format));
    }
  }

  function getSource() { return editor ? editor.getValue() : $("#source").value; }

  function setSource(text) {
    if (editor) editor.setValue(text);
    else { $("#source").value = text; $("#source").dispatchEvent(new Event("input")); }
  }

  async function formatSource(form, button) {
    button.disabled = true;
    const body = new URLSearchParams({ source: getSource(), go: form.elements.go.value });
    try {
      const response = await fetch(form.dataset.formatUrl, { method: "POST", body });
      const text = await response.text();
      if (response.ok) {
        if (text !== getSource()) setSource(text);
        toast("Formatted with gofmt");
      } else {
        showNotice(response.status >= 500 ? "busy" : "error", response.status >= 500
          ? "The server is busy and could not format the program. Try again in a moment."
          : `gofmt could not format the program: ${text}`);
      }
    } catch {
      showNotice("busy", "The server could not be reached to format the program. Check your connection and try again.");
    } finally {
      button.disabled = false;
    }
  }

  // ---------- Compiling by itself after a pause in typing ----------

  function autoOn() {
    const box = $("#auto-compile");
    return !!(box && box.checked && editor);
  }

  function initAutoSwitch() {
    const box = $("#auto-compile");
    if (!box) return;
    if (!editor) return; // the switch needs the editor (and JavaScript)
    box.closest(".auto-switch").hidden = false;
    let stored = null;
    try { stored = localStorage.getItem(AUTO_KEY); } catch { /* no storage: on */ }
    box.checked = stored !== "off";
    box.addEventListener("change", () => {
      try { localStorage.setItem(AUTO_KEY, box.checked ? "on" : "off"); } catch { /* not remembered */ }
      if (box.checked) scheduleAuto();
      else { clearTimeout(autoTimer); setAutoStatus(""); }
    });
  }

  // What a compile depends on: the text and every setting the form sends.
  function formKey() {
    const form = $("#compile-form");
    if (!form) return "";
    const data = new FormData(form);
    return JSON.stringify(Array.from(data.entries()).map(([k, v]) => [k, String(v)]));
  }

  function setAutoStatus(text) {
    const el = $("#auto-status");
    if (el) el.textContent = text;
  }

  function scheduleAuto() {
    clearTimeout(autoTimer);
    if (!autoOn()) return;
    // typing again: the compile on its way is for a text that is gone (a newer one follows)
    if (inflight && inflight.key !== formKey()) abortInflight();
    const wait = Math.max(DEBOUNCE_MS, pausedUntil - Date.now());
    autoTimer = setTimeout(runAuto, wait);
  }

  function runAuto() {
    if (!autoOn()) return;
    const form = $("#compile-form");
    const key = formKey();
    if (!getSource().trim()) return;
    if (shown && shown.key === key) return;          // never the same text twice
    if (inflight && inflight.key === key) return;    // nor while it is being compiled
    if (inflight) { autoTimer = setTimeout(runAuto, DEBOUNCE_MS); return; } // after the one on its way
    if (Date.now() < pausedUntil) { autoTimer = setTimeout(runAuto, pausedUntil - Date.now()); return; }
    autoNext = true;
    form.requestSubmit();
    autoNext = false;
  }

  function abortInflight() {
    const form = $("#compile-form");
    if (form && window.htmx) window.htmx.trigger(form, "htmx:abort");
  }

  // ---------- Notices and pending state ----------

  function showNotice(kind, message) {
    const result = $("#result");
    if (!result) return;
    const notice = document.createElement("div");
    notice.className = `notice ${kind}`;
    notice.setAttribute("role", "alert");
    notice.textContent = message;
    const body = $(".pane-source .pane-body", result);
    if (body) body.prepend(notice);
    else result.prepend(notice);
    return notice;
  }

  function showPending() {
    const result = $("#result");
    const body = result && $(".pane-source .pane-body", result);
    if (!body) return;
    for (const pane of $$(".pane-asm", result)) pane.remove();
    body.innerHTML = '<div class="notice pending" role="status" data-elapsed="0"><span class="spinner" aria-hidden="true"></span>' +
      '<span>Compiling… <span class="elapsed">0.0 s</span></span></div>';
  }

  setInterval(() => {
    for (const el of $$(".notice.pending[data-elapsed]")) {
      if (!el.dataset.since) el.dataset.since = String(performance.now() - parseFloat(el.dataset.elapsed) * 1000);
      const seconds = (performance.now() - parseFloat(el.dataset.since)) / 1000;
      const out = $(".elapsed", el);
      if (out) out.textContent = `${seconds.toFixed(1)} s`;
    }
  }, 100);

  // ---------- Lines: the editor's text, the compiled files, the annotated view ----------
  //
  // The editor holds one file or a txtar archive (-- name -- headers); the annotated view
  // and the assembly number each file's lines from 1. `shown.files` converts, for the
  // text that was compiled; the editor converts between that text and the text now.

  function fileLines(text) {
    const headers = Array.from(text.matchAll(/^-- (.+?) --[ \t]*$/gm));
    const offsets = new Map();
    if (headers.length) {
      if (text.slice(0, headers[0].index).trim()) offsets.set("main.go", 0);
      for (const h of headers) offsets.set(h[1].trim(), text.slice(0, h.index).split("\n").length);
    }
    const single = !headers.length;
    return {
      // editor line (of the compiled text) of a file's line, or null
      toEditor(file, line) {
        if (single) return line;
        return offsets.has(file) ? offsets.get(file) + line : null;
      },
      // the file and its line of an editor line (of the compiled text), or null
      fromEditor(line) {
        if (single) return { file: firstFile(), line };
        let best = null;
        for (const [file, offset] of offsets) if (offset < line && (!best || offset > best.offset)) best = { file, offset };
        return best ? { file: best.file, line: line - best.offset } : null;
      },
    };
  }

  function currentFiles() { return shown && shown.files ? shown.files : fileLines(getSource()); }

  // the editor line, now, of a line of a compiled file
  function editorLineOf(file, line) {
    if (!editor) return null;
    const n = currentFiles().toEditor(file || firstFile(), line);
    return n == null ? null : editor.toCurrentLine(n);
  }

  // the compiled file and line of an editor line now
  function compiledLineOf(line) {
    return currentFiles().fromEditor(editor ? editor.toCompiledLine(line) : line);
  }

  // ---------- Highlighting: source lines, editor, assembly ----------

  function sourceLine(line, file) {
    const sel = `.src-line[data-line="${line}"]` + (file ? `[data-file="${CSS.escape(file)}"]` : "");
    return $(sel);
  }

  function firstFile() {
    const first = $(".annotated-source .src-line, .annotated-source .line-chunk"); // a big program's page may start with a placeholder
    return first ? first.dataset.file : "main.go";
  }

  function clearClass(name) { for (const el of $$("." + name)) el.classList.remove(name); }

  function highlightRange(from, to, file, { scroll = true, instant = false } = {}) {
    clearClass("is-highlighted");
    if (!from) { if (editor) editor.highlightLines(0); return; }
    file = file || firstFile();
    if (big() && !sourceLine(from, file)) { // a big program: load the line's chunk first (bigpage.js)
      big().ensureLine(file, from).then((added) => { if (added) highlightRange(from, to, file, { scroll, instant: true }); });
      if (!editor) return;
    }
    let first = null;
    for (let n = from; n <= to; n++) {
      const el = sourceLine(n, file);
      if (el) { el.classList.add("is-highlighted"); first = first || el; }
    }
    if (editor) {
      const a = editorLineOf(file, from), b = editorLineOf(file, to);
      if (a) {
        editor.highlightLines(a, Math.max(a, b || a));
        if (scroll) editor.scrollToLine(a);
      }
    }
    if (first && scroll) scrollWithin(first.closest(".pane-body"), first, { instant });
    highlightAsm(from, to, file, { scroll });
  }

  function highlightLine(line, { fromEditor = false } = {}) {
    if (fromEditor) {
      // Follow the cursor quietly: the annotated line and its instructions, no scrolling of the editor.
      clearClass("is-highlighted");
      const at = compiledLineOf(line);
      if (!at) return;
      const el = sourceLine(at.line, at.file);
      if (el) el.classList.add("is-highlighted");
      highlightAsm(at.line, at.line, at.file, { scroll: true });
      return;
    }
    highlightRange(line, line);
  }

  function highlightAsm(from, to, file, { scroll = false } = {}) {
    for (const el of $$(".asm-line.is-highlighted")) el.classList.remove("is-highlighted");
    let first = null;
    for (const el of $$(".asm-line[data-line]")) {
      const n = parseInt(el.dataset.line, 10);
      if (n >= from && n <= to && (!file || el.dataset.file === file)) {
        el.classList.add("is-highlighted");
        first = first || el;
      }
    }
    if (first && scroll) {
      const fn = first.closest("details");
      if (fn && !fn.open) fn.open = true;
      scrollWithin(first.closest(".pane-body"), first);
    }
    if (!first && scroll && big() && !loadingAsm) { // a big program: load its listing first (bigpage.js)
      loadingAsm = true;
      big().ensureAsm(file || firstFile(), from).then((added) => {
        if (added) highlightAsm(from, to, file, { scroll });
      }).finally(() => { loadingAsm = false; });
    }
    return first;
  }

  let loadingAsm = false;
  function big() { return window.escapeExplorerBig && window.escapeExplorerBig.isBig() ? window.escapeExplorerBig : null; }

  function scrollWithin(container, el, { instant = false } = {}) {
    if (!container || !el) return;
    // instant: past lines a big program's page loads as they come into view (bigpage.js)
    const smooth = instant || matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
    if (container.scrollHeight > container.clientHeight + 4) {
      const offset = el.getBoundingClientRect().top - container.getBoundingClientRect().top;
      container.scrollTo({ top: container.scrollTop + offset - container.clientHeight / 3, behavior: smooth });
    } else {
      el.scrollIntoView({ block: "nearest", behavior: smooth });
    }
  }

  // ---------- Line anchors: #L12 and #L12-L18 ----------

  const ANCHOR = /^#(?:([^#/]+\.go)-)?L(\d+)(?:-L(\d+))?$/;

  function applyHash() {
    const m = ANCHOR.exec(decodeURIComponent(location.hash));
    if (!m) return;
    const from = parseInt(m[2], 10);
    const to = Math.max(from, parseInt(m[3] || m[2], 10));
    highlightRange(from, to, m[1] || firstFile());
    anchorStart = from;
  }

  function onLineNumberClick(event, link) {
    const line = parseInt(link.closest(".src-line").dataset.line, 10);
    const file = link.closest(".src-line").dataset.file;
    const prefix = file === firstFile() ? "" : `${file}-`;
    event.preventDefault();
    let hash = `#${prefix}L${line}`;
    if (event.shiftKey && anchorStart) {
      const [a, b] = [Math.min(anchorStart, line), Math.max(anchorStart, line)];
      hash = a === b ? `#${prefix}L${a}` : `#${prefix}L${a}-L${b}`;
    } else {
      anchorStart = line;
    }
    history.replaceState(history.state, "", hash);
    applyHash();
  }

  // ---------- Filters by kind ----------

  function applyFilters(root = document) {
    for (const button of $$(".kind-filters [data-kind]", root)) {
      button.setAttribute("aria-pressed", hiddenKinds.has(button.dataset.kind) ? "false" : "true");
    }
    for (const el of $$(".annotated-source [data-kind]", root)) {
      el.classList.toggle("filtered-out", hiddenKinds.has(el.dataset.kind));
    }
    if (editor) editor.setHiddenKinds(Array.from(hiddenKinds));
  }

  // ---------- Decisions in the editor ----------

  // The decisions of the annotated view, line by line, as the editor takes them; and a
  // copy of each line's rendered decisions (with flows) for the editor's panel.
  let panelSource = new Map(); // "file\nline" -> the line's .decisions element (a copy)

  function readDecisions(root, files) {
    const lines = [];
    panelSource = new Map();
    for (const li of $$(".annotated-source .src-line", root)) {
      const groups = $$(":scope > .decisions > .decision-group", li);
      if (!groups.length) continue;
      const kinds = [], messages = {}, decisions = [];
      for (const g of groups) {
        const items = $$(":scope > ul > li.decision", g);
        if (!items.length) continue; // only nil checks the compiler removed
        const kind = g.dataset.kind;
        const marker = $(".marker", items[0]);
        kinds.push({ kind, label: marker ? marker.textContent.trim() : kind });
        messages[kind] = [];
        for (const d of items) {
          const code = $("code", d);
          const reason = $(".directive-reason", d); // a //gcassert: result: its reason too
          const message = (code ? code.textContent : "") + (reason ? ` \u2014 ${reason.textContent.trim()}` : "");
          messages[kind].push(message);
          const column = parseInt(d.dataset.column || (/\bcol (\d+)/.exec(d.textContent) || [])[1] || "0", 10);
          decisions.push({ kind, column, message });
        }
      }
      if (!kinds.length) continue;
      const file = li.dataset.file, fileLine = parseInt(li.dataset.line, 10);
      const line = files.toEditor(file, fileLine);
      if (line == null) continue;
      panelSource.set(`${file}\n${fileLine}`, $(":scope > .decisions", li).cloneNode(true));
      lines.push({ line, file, fileLine, kinds, messages, decisions });
    }
    return lines;
  }

  function showDecisionsInEditor(root, info) {
    if (!editor) return;
    const snap = info && info.snap ? info.snap : editor.snapshot();
    const files = fileLines(snap.doc.toString());
    if (info) info.files = files;
    if (big()) { // a big program: most lines are not in the page (bigpage.js)
      panelSource = new Map();
      big().index().then((data) => {
        if (!data || (info && shown !== info)) return;
        const lines = [];
        for (const d of data.lines) {
          const line = files.toEditor(d.file, d.line);
          if (line == null) continue;
          const messages = {};
          for (const k of d.kinds) messages[k.kind] = d.decisions.filter((x) => x.kind === k.kind).map((x) => x.message);
          lines.push({ line, file: d.file, fileLine: d.line, kinds: d.kinds, messages, decisions: d.decisions });
        }
        editor.setDecisions(lines, snap);
        if (editor.panelOpen()) renderPanel(editor.cursorLine());
      });
      return;
    }
    const lines = readDecisions(root, files);
    editor.setDecisions(lines, snap);
    if (editor.panelOpen()) renderPanel(editor.cursorLine());
  }

  // The panel under the editor's text: the decisions of the cursor's line, as the
  // annotated view shows them (flows included), opened from a chip or by the keys.
  let panelEl = null;

  function createPanel() {
    panelEl = document.createElement("div");
    panelEl.className = "cm-ee-panel";
    panelEl.setAttribute("role", "region");
    panelEl.setAttribute("aria-label", "Decisions on the cursor's line");
    panelEl.innerHTML =
      '<div class="cm-ee-panel-header"><strong class="cm-ee-panel-title"></strong> <span class="cm-ee-panel-note muted"></span>' +
      '<span class="actions"><button type="button" class="cm-ee-panel-asm" title="Its instructions in the assembly (Alt+A)">Assembly</button>' +
      '<button type="button" class="cm-ee-panel-close" aria-label="Close the decisions panel" title="Close (Esc)">Close</button></span></div>' +
      '<div class="cm-ee-panel-body" aria-live="polite"></div>';
    panelEl.addEventListener("click", (event) => {
      if (event.target.closest(".cm-ee-panel-close")) closePanel();
      else if (event.target.closest(".cm-ee-panel-asm")) jumpToAssembly();
    });
    panelEl.addEventListener("keydown", (event) => {
      if (event.key === "Escape") { event.preventDefault(); closePanel(); }
    });
    return panelEl;
  }

  function closePanel() {
    if (!editor) return;
    editor.setPanelOpen(false);
    editor.focus();
  }

  function openPanel(line, kind, { moveCursor = false } = {}) {
    if (!editor) return;
    if (kind) focusKind = kind;
    if (moveCursor) {
      const [item] = editor.decisionsOnLine(line);
      const mark = item && item.marks.find((m) => m.kind === kind);
      editor.goto(line, mark ? mark.from : undefined);
    }
    editor.setPanelOpen(true);
    renderPanel(line, kind);
  }

  function renderPanel(line, kind) {
    if (!panelEl) return;
    const items = editor.decisionsOnLine(line);
    const title = $(".cm-ee-panel-title", panelEl);
    const note = $(".cm-ee-panel-note", panelEl);
    const body = $(".cm-ee-panel-body", panelEl);
    title.textContent = `Line ${line}`;
    body.replaceChildren();
    const stale = items.some((i) => i.stale);
    note.textContent = !items.length ? "no decisions on this line"
      : stale ? "this line changed since the compile: these decisions may be out of date" : "";
    panelEl.classList.toggle("is-stale", stale);
    for (const item of items) {
      let copy = panelSource.get(`${item.file}\n${item.fileLine}`);
      if (!copy && big()) { // a big program: the line's decisions, once its chunk is in the page
        const li = sourceLine(item.fileLine, item.file);
        const decisions = li && $(":scope > .decisions", li);
        if (decisions) panelSource.set(`${item.file}\n${item.fileLine}`, copy = decisions.cloneNode(true));
        else if (!li) big().ensureLine(item.file, item.fileLine).then((added) => {
          if (added && editor.panelOpen() && editor.cursorLine() === line) renderPanel(line, kind);
        });
      }
      if (!copy) continue;
      const node = copy.cloneNode(true);
      for (const el of $$("[data-kind]", node)) el.classList.toggle("filtered-out", hiddenKinds.has(el.dataset.kind));
      body.appendChild(node);
    }
    const at = items[0] || compiledLineOf(line);
    const hasAsm = at && asmRows(at.fileLine || at.line, at.file).length > 0;
    $(".cm-ee-panel-asm", panelEl).hidden = !hasAsm;
    if (kind) {
      const why = $(`details.why[data-kind="${CSS.escape(kind)}"]`, body);
      if (why) why.open = true;
    }
  }

  // ---------- Keyboard: from decision to decision, and to the assembly ----------

  const isHeap = (kind) => HEAP_KINDS.has(kind);

  // The kind in focus: the one last visited if the line in focus has it, else that line's first.
  function sameKind() {
    const here = currentKinds();
    const kind = here.includes(focusKind) ? focusKind : here[0] || focusKind;
    return (k) => k === kind;
  }

  // The kinds on the line in focus (the editor's cursor line, or the annotated line).
  function currentKinds() {
    if (editor && isEditorFocus()) {
      const [item] = editor.decisionsOnLine(editor.cursorLine());
      return item ? item.kinds : [];
    }
    const line = currentSourceLine();
    return line ? $$(".gutter .marker[data-kind]", line).map((m) => m.dataset.kind) : [];
  }

  function isEditorFocus() {
    const active = document.activeElement;
    return !!(editor && active && active.closest && active.closest(".cm-editor, .pane-editor"));
  }

  function navigate(direction, matches) {
    if (editor && (isEditorFocus() || !$(".annotated-source"))) return navigateEditor(direction, matches);
    return navigateSource(direction, matches);
  }

  function navigateEditor(direction, matches) {
    const lines = new Map();
    for (const item of editor.decisions()) {
      if (item.kinds.some((k) => matches(k) && !hiddenKinds.has(k)) && !lines.has(item.line)) lines.set(item.line, item);
    }
    if (!lines.size) { toast(matches === isHeap ? "No heap decisions" : "No other decision of this kind"); return true; }
    const order = Array.from(lines.keys()).sort((a, b) => a - b);
    const cursor = editor.cursorLine();
    const next = direction > 0 ? (order.find((n) => n > cursor) ?? order[0])
      : (order.slice().reverse().find((n) => n < cursor) ?? order[order.length - 1]);
    const item = lines.get(next);
    const kind = item.kinds.find((k) => matches(k) && !hiddenKinds.has(k));
    const mark = item.marks.find((m) => m.kind === kind);
    focusKind = kind;
    editor.goto(next, mark ? mark.from : undefined);
    editor.setPanelOpen(true);
    renderPanel(next, kind);
    return true;
  }

  function currentSourceLine() {
    const active = document.activeElement;
    return (active && active.closest && active.closest(".src-line")) || $(".src-line.is-highlighted");
  }

  // A big program's page (bigpage.js): the next decision from every line's decisions,
  // its chunk loaded first.
  function navigateBig(direction, matches) {
    big().index().then((data) => {
      if (!data) return;
      const fileOrder = new Map();
      for (const c of data.chunks) if (!fileOrder.has(c.file)) fileOrder.set(c.file, fileOrder.size);
      const rank = (file, line) => (fileOrder.get(file) ?? 0) * 1e7 + line;
      const lines = data.lines.filter((d) => d.kinds.some((k) => matches(k.kind) && !hiddenKinds.has(k.kind)))
        .sort((a, b) => rank(a.file, a.line) - rank(b.file, b.line));
      if (!lines.length) { toast("No such decision"); return; }
      const current = currentSourceLine();
      const at = current ? rank(current.dataset.file, parseInt(current.dataset.line, 10)) : -1;
      const next = direction > 0 ? (lines.find((d) => rank(d.file, d.line) > at) || lines[0])
        : (lines.slice().reverse().find((d) => rank(d.file, d.line) < at && at >= 0) || lines[lines.length - 1]);
      big().ensureLine(next.file, next.line).then(() => {
        const target = sourceLine(next.line, next.file);
        if (target) focusSourceLine(target, matches, { instant: true });
      });
    });
    return true;
  }

  function navigateSource(direction, matches) {
    if (big()) return navigateBig(direction, matches);
    const lines = $$(".annotated-source .src-line").filter((li) =>
      $$(".gutter .marker[data-kind]", li).some((m) => matches(m.dataset.kind) && !hiddenKinds.has(m.dataset.kind)));
    if (!lines.length) { toast("No such decision"); return true; }
    const current = currentSourceLine();
    const all = $$(".annotated-source .src-line");
    const at = current ? all.indexOf(current) : -1;
    let target;
    if (direction > 0) target = lines.find((li) => all.indexOf(li) > at) || lines[0];
    else target = lines.slice().reverse().find((li) => all.indexOf(li) < at && at >= 0) || lines[lines.length - 1];
    return focusSourceLine(target, matches);
  }

  function focusSourceLine(target, matches, { instant = false } = {}) {
    const kind = $$(".gutter .marker[data-kind]", target).map((m) => m.dataset.kind).find((k) => matches(k) && !hiddenKinds.has(k));
    focusKind = kind || focusKind;
    clearClass("is-highlighted");
    target.classList.add("is-highlighted");
    const line = parseInt(target.dataset.line, 10);
    highlightAsm(line, line, target.dataset.file, { scroll: true });
    const why = kind && $(`details.why[data-kind="${CSS.escape(kind)}"] > summary`, target);
    (why || $(".ln", target)).focus({ preventScroll: true });
    scrollWithin(target.closest(".pane-body"), target, { instant });
    return true;
  }

  function asmRows(line, file) {
    return $$(".asm-line[data-line]").filter((el) =>
      parseInt(el.dataset.line, 10) === line && (!file || el.dataset.file === file));
  }

  function jumpToAssembly() {
    let at = null;
    if (editor && (isEditorFocus() || !currentSourceLine())) at = compiledLineOf(editor.cursorLine());
    else {
      const li = currentSourceLine();
      if (li) at = { file: li.dataset.file, line: parseInt(li.dataset.line, 10) };
    }
    if (!at) return true;
    const first = highlightAsm(at.line, at.line, at.file, { scroll: true });
    if (!first && big()) { // a big program: its listing may not be loaded yet (bigpage.js)
      big().ensureAsm(at.file || firstFile(), at.line).then(() => focusAsm(highlightAsm(at.line, at.line, at.file, { scroll: true }), at));
      return true;
    }
    return focusAsm(first, at);
  }

  function focusAsm(first, at) {
    if (!first) { toast(`No instructions for line ${at.line}`); return true; }
    expandPane(first.closest(".pane"));
    first.tabIndex = -1;
    first.focus({ preventScroll: true });
    return true;
  }

  // Alt+J / Alt+K, with Shift, and Alt+A: by the key's place on the keyboard (event.code:
  // any layout, and macOS's Option characters), in the editor too (before its keymap).
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || !event.altKey || event.ctrlKey || event.metaKey) return;
    const typing = event.target.matches && event.target.matches("input, select, textarea");
    if (typing) return;
    let done = false;
    if (event.code === "KeyJ") done = navigate(1, event.shiftKey ? sameKind() : isHeap);
    else if (event.code === "KeyK") done = navigate(-1, event.shiftKey ? sameKind() : isHeap);
    else if (event.code === "KeyA" && !event.shiftKey) done = jumpToAssembly();
    if (done) { event.preventDefault(); event.stopPropagation(); }
  }, true);

  document.addEventListener("focusin", (event) => {
    const el = event.target.closest && event.target.closest(".annotated-source [data-kind], .cm-ee-panel [data-kind]");
    if (el) focusKind = el.dataset.kind;
  });

  // ---------- Panes: resizable, collapsible, remembered ----------
  //
  // Wide screens: the editor on the left, the decisions over the assembly on the right
  // (a permalink: the decisions left, the assembly right), split by separators that a
  // pointer drags and the arrow keys move (Home/End: the limits, Enter: collapse the
  // pane before it). Sizes and collapsed panes are remembered in this browser.

  const WIDE = matchMedia("(min-width: 60rem)");
  const LIMITS = { min: 15, max: 85 };
  let panes = loadPanes();

  function loadPanes() {
    let stored = {};
    try { stored = JSON.parse(localStorage.getItem(PANES_KEY) || "{}") || {}; } catch { stored = {}; }
    const panes = { editor: null, source: 58, readonly: 62, collapsed: {}, collapsedReadonly: {}, ...stored };
    for (const key of ["collapsed", "collapsedReadonly"]) if (typeof panes[key] !== "object" || !panes[key]) panes[key] = {};
    return panes;
  }

  function savePanes() {
    try { localStorage.setItem(PANES_KEY, JSON.stringify(panes)); } catch { /* not remembered */ }
  }

  function workspace() { return $(".workspace"); }
  function isReadOnly() { const ws = workspace(); return !!(ws && ws.classList.contains("readonly")); }
  // collapsed panes, per layout: a permalink's decisions are its main pane
  function collapsed() { return isReadOnly() ? panes.collapsedReadonly : panes.collapsed; }

  const PANE_NAMES = { editor: "the editor", source: "the decisions", asm: "the assembly" };

  function paneName(pane) {
    if (pane.classList.contains("pane-editor")) return "editor";
    if (pane.classList.contains("pane-source")) return "source";
    if (pane.classList.contains("pane-asm")) return "asm";
    return "";
  }

  function paneOf(name) { return $(`.workspace .pane-${name}`); }

  // The editor's width by default: a 100-column line, its gutters and room for a few chips.
  function defaultEditorSize(ws) {
    let px = 0;
    if (editor && editor.view) {
      const content = editor.view.contentDOM;
      const probe = document.createElement("span");
      const style = getComputedStyle(content);
      probe.style.font = `${style.fontSize} ${style.fontFamily}`;
      probe.style.position = "absolute";
      probe.style.visibility = "hidden";
      probe.style.whiteSpace = "pre";
      probe.textContent = "0".repeat(100);
      editor.view.dom.appendChild(probe);
      const columns = probe.getBoundingClientRect().width;
      probe.remove();
      const gutters = editor.view.dom.querySelector(".cm-gutters");
      px = columns + (gutters ? gutters.getBoundingClientRect().width : 60) + 110;
    }
    const width = ws.clientWidth || 1;
    const pct = px ? (px / width) * 100 : 66;
    return Math.round(Math.min(75, Math.max(45, pct)));
  }

  function initPanes() {
    const ws = workspace();
    if (!ws) return;
    const readonly = isReadOnly();
    const vsplit = makeSplitter("vertical", readonly ? "source" : "editor");
    ws.appendChild(vsplit);
    if (!readonly) ws.appendChild(makeSplitter("horizontal", "source"));
    ws.classList.add("has-panes");
    if (!readonly && panes.editor == null) panes.editor = defaultEditorSize(ws);
    decoratePanes();
    layout();
    WIDE.addEventListener("change", layout);
    window.addEventListener("resize", fitHeight);
  }

  function makeSplitter(orientation, controls) {
    const el = document.createElement("div");
    el.className = `splitter splitter-${orientation === "vertical" ? "v" : "h"}`;
    el.setAttribute("role", "separator");
    el.tabIndex = 0;
    el.setAttribute("aria-orientation", orientation);
    el.setAttribute("aria-valuemin", String(LIMITS.min));
    el.setAttribute("aria-valuemax", String(LIMITS.max));
    el.dataset.controls = controls;
    el.setAttribute("aria-label", orientation === "vertical"
      ? (controls === "editor" ? "Resize the editor (width, in percent)" : "Resize the decisions (width, in percent)")
      : "Resize the decisions above the assembly (height, in percent)");
    el.title = "Drag, or focus and use the arrow keys (Enter collapses)";
    el.addEventListener("pointerdown", (e) => startDrag(e, el));
    el.addEventListener("keydown", (e) => splitterKey(e, el));
    return el;
  }

  function sizeKey(el) {
    if (el.dataset.controls === "editor") return "editor";
    return isReadOnly() ? "readonly" : "source";
  }

  function setSize(el, value, { save = true } = {}) {
    const v = Math.round(Math.min(LIMITS.max, Math.max(LIMITS.min, value)) * 10) / 10;
    panes[sizeKey(el)] = v;
    if (collapsed()[el.dataset.controls]) collapsed()[el.dataset.controls] = false;
    layout();
    if (save) savePanes();
  }

  function startDrag(event, el) {
    if (event.button !== 0) return;
    event.preventDefault();
    el.setPointerCapture(event.pointerId);
    el.classList.add("is-dragging");
    const ws = workspace();
    const vertical = el.classList.contains("splitter-v");
    const move = (e) => {
      const rect = ws.getBoundingClientRect();
      const style = getComputedStyle(ws);
      if (vertical) {
        const left = rect.left + parseFloat(style.paddingLeft), width = rect.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        setSize(el, ((e.clientX - left) / width) * 100, { save: false });
      } else {
        const top = rect.top + parseFloat(style.paddingTop), height = rect.height - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
        setSize(el, ((e.clientY - top) / height) * 100, { save: false });
      }
    };
    const up = () => {
      el.classList.remove("is-dragging");
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      el.removeEventListener("pointercancel", up);
      savePanes();
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerup", up);
    el.addEventListener("pointercancel", up);
  }

  function splitterKey(event, el) {
    const vertical = el.classList.contains("splitter-v");
    const step = event.shiftKey ? 10 : 2;
    const now = panes[sizeKey(el)];
    const keys = vertical ? { less: "ArrowLeft", more: "ArrowRight" } : { less: "ArrowUp", more: "ArrowDown" };
    if (event.key === keys.less) setSize(el, now - step);
    else if (event.key === keys.more) setSize(el, now + step);
    else if (event.key === "Home") setSize(el, LIMITS.min);
    else if (event.key === "End") setSize(el, LIMITS.max);
    else if (event.key === "Enter") toggleCollapse(el.dataset.controls);
    else return;
    event.preventDefault();
  }

  // A collapse button in each pane's header (the result's panes come and go with htmx).
  function decoratePanes() {
    for (const pane of $$(".workspace .pane")) {
      const name = paneName(pane);
      if (!name) continue;
      const header = $(".pane-header", pane);
      if (header && !$(".pane-toggle", header)) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "pane-toggle";
        button.dataset.pane = name;
        button.innerHTML = '<svg class="icon" aria-hidden="true" viewBox="0 0 16 16"><path d="M4 6l4 4 4-4"/></svg>';
        const actions = $(":scope > .actions", header);
        (actions || header).appendChild(button);
      }
      pane.classList.toggle("is-collapsed", !!collapsed()[name]);
      const button = header && $(".pane-toggle", header);
      if (button) {
        const folded = !!collapsed()[name];
        button.setAttribute("aria-expanded", String(!folded));
        button.setAttribute("aria-label", `${folded ? "Expand" : "Collapse"} ${PANE_NAMES[name]}`);
        button.title = folded ? "Expand" : "Collapse";
      }
    }
  }

  function toggleCollapse(name) {
    collapsed()[name] = !collapsed()[name];
    savePanes();
    decoratePanes();
    layout();
  }

  function expandPane(pane) {
    const name = pane && paneName(pane);
    if (name && collapsed()[name]) toggleCollapse(name);
  }

  function layout() {
    const ws = workspace();
    if (!ws || !ws.classList.contains("has-panes")) return;
    const wide = WIDE.matches;
    ws.classList.toggle("split", wide);
    const c = collapsed();
    const readonly = isReadOnly();
    const hasAsm = !!paneOf("asm");
    for (const el of $$(".splitter", ws)) {
      const value = panes[sizeKey(el)];
      el.hidden = !wide || (el.classList.contains("splitter-h") && !hasAsm);
      el.setAttribute("aria-valuenow", String(Math.round(value)));
      el.setAttribute("aria-valuetext", `${Math.round(value)} percent`);
    }
    if (!wide) {
      ws.style.removeProperty("grid-template-columns");
      ws.style.removeProperty("grid-template-rows");
      ws.style.removeProperty("height");
      return;
    }
    const strip = "2.6rem";
    if (readonly) {
      const left = c.source ? strip : `minmax(12rem, ${panes.readonly}%)`;
      const right = c.asm ? strip : "minmax(0, 1fr)";
      ws.style.gridTemplateColumns = `${left} 0.6rem ${c.source && !c.asm ? "minmax(0, 1fr)" : right}`;
      ws.style.gridTemplateRows = "minmax(0, 1fr)";
    } else {
      const right = c.source && (c.asm || !hasAsm) ? "auto" : "minmax(0, 1fr)";
      ws.style.gridTemplateColumns = `${c.editor ? strip : `minmax(14rem, ${panes.editor}%)`} 0.6rem ${c.editor ? "minmax(0, 1fr)" : right === "auto" ? "minmax(10rem, 1fr)" : right}`;
      let rows;
      if (!hasAsm) rows = c.source ? "auto 0 minmax(0, 1fr)" : "minmax(0, 1fr) 0 0";
      else if (c.source && c.asm) rows = "auto 0.6rem auto";
      else if (c.source) rows = "auto 0.6rem minmax(0, 1fr)";
      else if (c.asm) rows = "minmax(0, 1fr) 0.6rem auto";
      else rows = `minmax(4rem, ${panes.source}%) 0.6rem minmax(4rem, 1fr)`;
      ws.style.gridTemplateRows = rows;
    }
    fitHeight();
  }

  // The workspace fills the window below what is above it; its panes scroll inside.
  function fitHeight() {
    const ws = workspace();
    if (!ws || !ws.classList.contains("split")) return;
    const top = ws.getBoundingClientRect().top + window.scrollY;
    ws.style.height = `${Math.max(480, window.innerHeight - Math.min(top, 160))}px`;
  }

  // ---------- Copy link ----------

  async function copyLink(button) {
    const url = new URL(button.dataset.url, location.origin);
    if (ANCHOR.test(location.hash)) url.hash = location.hash;
    try {
      await navigator.clipboard.writeText(url.href);
      toast("Link copied");
    } catch {
      window.prompt("Copy this link:", url.href);
    }
  }

  function toast(message) {
    const el = document.createElement("div");
    el.className = "toast";
    el.setAttribute("role", "status");
    el.textContent = message;
    document.body.append(el);
    setTimeout(() => el.remove(), 1800);
  }

  // ---------- Event wiring (delegated: fragments are swapped by htmx) ----------

  // Sortable per-function summary: click a heading; again to reverse.
  function sortTable(th) {
    const table = th.closest("table");
    const index = Array.from(th.parentElement.children).indexOf(th);
    const numeric = th.dataset.sort === "number";
    const descending = th.getAttribute("aria-sort") !== "descending";
    for (const other of th.parentElement.children) other.setAttribute("aria-sort", "none");
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    const body = table.tBodies[0];
    const value = (row) => row.children[index].dataset.value;
    const rows = Array.from(body.rows).sort((a, b) => {
      const order = numeric ? parseFloat(value(a)) - parseFloat(value(b)) : value(a).localeCompare(value(b));
      return descending ? -order : order;
    });
    for (const row of rows) body.appendChild(row);
  }

  document.addEventListener("click", (event) => {
    const target = event.target;
    const sortHeading = target.closest("table.sortable th[data-sort]");
    if (sortHeading) { sortTable(sortHeading); return; }
    const toggler = target.closest(".pane-toggle");
    if (toggler) { toggleCollapse(toggler.dataset.pane); return; }
    const filter = target.closest(".kind-filters [data-kind]");
    if (filter) {
      const kind = filter.dataset.kind;
      if (hiddenKinds.has(kind)) hiddenKinds.delete(kind); else hiddenKinds.add(kind);
      applyFilters();
      return;
    }
    const step = target.closest(".flow-step a[data-target]");
    if (step) {
      event.preventDefault();
      for (const s of $$(".flow-step.is-active")) s.classList.remove("is-active");
      step.parentElement.classList.add("is-active");
      const m = ANCHOR.exec("#" + step.dataset.target);
      if (m) highlightRange(parseInt(m[2], 10), parseInt(m[2], 10), m[1] || firstFile(), { scroll: true });
      return;
    }
    const ln = target.closest(".src-line .ln");
    if (ln) { onLineNumberClick(event, ln); return; }
    const copy = target.closest(".copy-link");
    if (copy) { copyLink(copy); return; }
    const toggle = target.closest(".asm-toggle-all");
    if (toggle) {
      const open = toggle.dataset.open === "true";
      for (const d of $$(".asm-function")) d.open = open;
      toggle.dataset.open = String(!open);
      toggle.textContent = open ? "Collapse all" : "Expand all";
      return;
    }
    const jump = target.closest(".asm-line a");
    if (jump) return; // labels and source links: let the anchor work
    const asm = target.closest(".asm-line[data-line]");
    if (asm) {
      const line = parseInt(asm.dataset.line, 10);
      highlightRange(line, line, asm.dataset.file);
      for (const el of $$(".asm-line.is-highlighted")) el.classList.remove("is-highlighted");
      highlightAsm(line, line, asm.dataset.file);
      return;
    }
    const src = target.closest(".src-line");
    if (src && !target.closest("summary, a, button, details")) {
      const line = parseInt(src.dataset.line, 10);
      clearClass("is-highlighted");
      src.classList.add("is-highlighted");
      if (editor) {
        const n = editorLineOf(src.dataset.file, line);
        if (n) editor.highlightLines(n, n);
      }
      highlightAsm(line, line, src.dataset.file, { scroll: true });
    }
  });

  // Hover (and keyboard focus) previews the link between a line and its instructions.
  function preview(event) {
    const src = event.target.closest && event.target.closest(".src-line");
    if (src) { previewAsm(src.dataset.line, src.dataset.file); return; }
    const asm = event.target.closest && event.target.closest(".asm-line[data-line]");
    if (asm) previewSource(asm.dataset.line, asm.dataset.file);
  }

  function previewAsm(line, file) {
    clearClass("is-hovered");
    for (const el of $$(`.asm-line[data-line="${line}"][data-file="${CSS.escape(file)}"]`)) el.classList.add("is-hovered");
  }

  function previewSource(line, file) {
    clearClass("is-hovered");
    const src = sourceLine(line, file);
    if (src) src.classList.add("is-hovered");
    for (const el of $$(`.asm-line[data-line="${line}"][data-file="${CSS.escape(file)}"]`)) el.classList.add("is-hovered");
  }

  document.addEventListener("mouseover", preview);
  document.addEventListener("focusin", preview);
  document.addEventListener("mouseleave", () => clearClass("is-hovered"), true);

  window.addEventListener("hashchange", applyHash);
  // a big program's chunk of lines or listing came in (bigpage.js): filters apply to it too
  document.addEventListener("ee:loaded", () => applyFilters());

  // An explicit compile replaces an automatic one on its way.
  document.addEventListener("submit", (event) => {
    if (event.target.id === "compile-form" && !autoNext && inflight && inflight.auto) abortInflight();
    if (event.target.id === "compile-form") clearTimeout(autoTimer);
  }, true);

  const isCompile = (elt) => elt && elt.id === "compile-form";
  const isPoll = (elt) => elt && elt.closest && !!elt.closest("#result") && !isCompile(elt);

  document.addEventListener("htmx:beforeRequest", (event) => {
    const { elt, xhr } = event.detail;
    if (isCompile(elt)) {
      seq += 1;
      const info = { seq, key: formKey(), auto: autoNext, snap: editor ? editor.snapshot() : null, xhr };
      requestInfo.set(xhr, info);
      inflight = info;
      if (info.auto) {
        setAutoStatus("Compiling…");
        for (const pane of $$("#result .pane")) pane.classList.add("is-updating");
      } else {
        setAutoStatus("");
        showPending();
      }
    } else if (isPoll(elt) && shown) {
      requestInfo.set(xhr, { ...shown, xhr, poll: true });
    }
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const info = requestInfo.get(event.detail.xhr);
    if (info && inflight === info) {
      inflight = null;
      for (const pane of $$("#result .pane.is-updating")) pane.classList.remove("is-updating");
      if (info.auto && $("#auto-status") && $("#auto-status").textContent === "Compiling…") setAutoStatus("");
    }
  });

  document.addEventListener("htmx:beforeHistoryUpdate", (event) => {
    const info = swapping;
    // an automatic compile replaces the address rather than adding to the history
    if (info && info.auto && event.detail.history) event.detail.history.type = "replace";
  });

  document.addEventListener("htmx:beforeSwap", (event) => {
    const { xhr } = event.detail;
    const info = requestInfo.get(xhr);
    if (!info) return;
    if (info.seq < seq) { // an answer for an older text: the newer one wins
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      dropped += 1;
      return;
    }
    if (info.auto && (xhr.status === 429 || xhr.status === 503)) {
      // Not now: say so above the result that is shown, and wait before trying again.
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      const retry = parseInt(xhr.getResponseHeader("Retry-After") || "10", 10);
      pausedUntil = Date.now() + Math.max(1, retry) * 1000;
      const text = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelector(".notice");
      for (const old of $$("#result .notice.auto-busy")) old.remove();
      const notice = showNotice("busy", `${text ? text.textContent.trim() : "The server is busy."} ` +
        `Automatic compiles wait ${retry} s; Compile (Ctrl+Enter) asks again.`);
      if (notice) notice.classList.add("auto-busy");
      setAutoStatus(`paused ${retry} s`);
      return;
    }
    swapping = info;
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (!event.detail.target || event.detail.target.id !== "result") return;
    const info = requestInfo.get(event.detail.xhr) || null;
    if (info) shown = info;
    swapping = null;
    afterResult(info);
  });
  document.addEventListener("htmx:sendError", () =>
    showNotice("busy", "The server could not be reached. Check your connection and try again."));
  document.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    showNotice("busy", status >= 500
      ? `The server is busy or having trouble (HTTP ${status}). Wait a moment and compile again.`
      : `The server refused the request (HTTP ${status}). Reload the page and try again.`);
  });

  function afterResult(info) {
    for (const b of $$(".copy-link, .asm-toggle-all")) b.hidden = false;
    for (const p of $$(".keys-hint")) p.hidden = !!editor; // the editor's hint says them on the playground
    if (editor) {
      editor.highlightLines(0);
      if ($("#result .annotated-source")) showDecisionsInEditor($("#result"), info);
    }
    applyFilters();
    decoratePanes();
    layout();
    if (info && info.auto) setAutoStatus("");
  }

  document.addEventListener("DOMContentLoaded", () => {
    initEditor();
    initPanes();
    afterResult(null);
    applyHash();
  });
})();
