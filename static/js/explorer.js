// Escape Explorer: the playground's behaviour on top of server-rendered HTML.
// Everything here is an enhancement: without JavaScript the form posts and the
// permalink page renders the same result.
(function () {
  "use strict";

  const DRAFT_KEY = "escape-explorer:draft";
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const hiddenKinds = new Set();
  let editor = null;
  let anchorStart = null; // first line of a shift-click range

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
      editor = window.EscapeEditor.create({ parent: host, textarea, onSubmit: () => form.requestSubmit() });
      editor.onCursorLine((line) => highlightLine(line, { fromEditor: true }));
      // the editable area is the editor's one tab stop (and makes its scroller keyboard-reachable)
      const content = host.querySelector(".cm-content");
      if (content) content.tabIndex = 0;
      window.escapeExplorer = { editor }; // for the browser tests and the console
    } else {
      textarea.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
      });
    }
    let timer = 0;
    const save = () => { clearTimeout(timer); timer = setTimeout(() => saveDraft(form), 300); };
    textarea.addEventListener("input", save);
    form.addEventListener("change", save);
    initControls(form);
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

  // ---------- Highlighting: source lines, editor, assembly ----------

  function sourceLine(line, file) {
    const sel = `.src-line[data-line="${line}"]` + (file ? `[data-file="${CSS.escape(file)}"]` : "");
    return $(sel);
  }

  function firstFile() {
    const first = $(".annotated-source .src-line");
    return first ? first.dataset.file : "";
  }

  function clearClass(name) { for (const el of $$("." + name)) el.classList.remove(name); }

  function highlightRange(from, to, file, { scroll = true } = {}) {
    clearClass("is-highlighted");
    if (!from) { if (editor) editor.highlightLines(0); return; }
    file = file || firstFile();
    let first = null;
    for (let n = from; n <= to; n++) {
      const el = sourceLine(n, file);
      if (el) { el.classList.add("is-highlighted"); first = first || el; }
    }
    if (editor && file === firstFile() && !isMultiFile()) {
      editor.highlightLines(from, to);
      if (scroll) editor.scrollToLine(from);
    }
    if (first && scroll) scrollWithin(first.closest(".pane-body"), first);
    highlightAsm(from, to, file, { scroll });
  }

  function highlightLine(line, { fromEditor = false } = {}) {
    if (fromEditor) {
      // Follow the cursor quietly: the annotated line and its instructions, no scrolling of the editor.
      clearClass("is-highlighted");
      const el = sourceLine(line, firstFile());
      if (el) el.classList.add("is-highlighted");
      highlightAsm(line, line, firstFile(), { scroll: true });
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
  }

  function isMultiFile() { return $$(".file-name").length > 0; }

  function scrollWithin(container, el) {
    if (!container || !el) return;
    const smooth = matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
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
      if (editor && !isMultiFile()) editor.highlightLines(line, line);
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

  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt && event.detail.elt.id === "compile-form") showPending();
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "result") afterResult();
  });
  document.addEventListener("htmx:sendError", () =>
    showNotice("busy", "The server could not be reached. Check your connection and try again."));
  document.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    showNotice("busy", status >= 500
      ? `The server is busy or having trouble (HTTP ${status}). Wait a moment and compile again.`
      : `The server refused the request (HTTP ${status}). Reload the page and try again.`);
  });

  function afterResult() {
    for (const b of $$(".copy-link, .asm-toggle-all")) b.hidden = false;
    if (editor) editor.highlightLines(0);
    applyFilters();
  }

  document.addEventListener("DOMContentLoaded", () => {
    initEditor();
    afterResult();
    applyHash();
  });
})();
