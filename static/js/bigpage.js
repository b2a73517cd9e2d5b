// Escape Explorer: a big program's page (explorer/bigpage.py) holds one chunk of its lines;
// the others are placeholders (<li class="line-chunk" data-url>), loaded here as they come
// near the screen or when a line in them is asked for (#L123, a flow step, the editor's
// panel); a function's listing is loaded when it is opened (<details data-url>), a long
// one in parts (<li class="asm-chunk" data-url>), and so is the per-function summary.
// Without JavaScript the placeholders are links to pages of lines (?page=N). Chunks of lines
// scrolled far out of view become placeholders again (as tall as they were), so that a page
// read from top to bottom keeps a few chunks' elements, not the whole program's.
// explorer.js uses window.escapeExplorerBig; nothing here runs on a small program's page.
(function () {
  "use strict";

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const PLACEHOLDERS = ".line-chunk[data-url], .asm-chunk[data-url]";
  const loading = new WeakMap(); // placeholder or <details> -> Promise of what it became
  const loadedChunks = new Set(); // {placeholder, elements} of the chunks of lines in the page
  let indexPromise = null, indexUrl = "";

  function fetchFragment(url) {
    // HX-Request: the fragment, as htmx would ask for it (the same URL without it is a page)
    return fetch(url, { headers: { "HX-Request": "true" } }).then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
      return response.text();
    });
  }

  function fragmentOf(html) {
    const template = document.createElement("template");
    template.innerHTML = html; // our own server's HTML, escaped there; no scripts run from a template
    return template.content;
  }

  function loaded(parent, elements) {
    parent.dispatchEvent(new CustomEvent("ee:loaded", { bubbles: true, detail: { elements } }));
  }

  // Replace a placeholder by the lines (or instructions) it stands for.
  function load(placeholder) {
    if (loading.has(placeholder)) return loading.get(placeholder);
    placeholder.classList.add("is-loading");
    placeholder.setAttribute("aria-busy", "true");
    const promise = fetchFragment(placeholder.dataset.url).then((html) => {
      const parent = placeholder.parentElement;
      const content = fragmentOf(html);
      const elements = Array.from(content.children);
      if (!parent) return elements;
      placeholder.replaceWith(content);
      if (placeholder.classList.contains("line-chunk") && elements.length) loadedChunks.add({ placeholder, elements });
      loaded(parent, elements);
      return elements;
    }).catch((error) => {
      loading.delete(placeholder);
      placeholder.classList.remove("is-loading");
      placeholder.removeAttribute("aria-busy");
      placeholder.classList.add("load-failed");
      throw error;
    });
    loading.set(placeholder, promise);
    return promise;
  }

  // A function's listing, or the per-function summary, when its <details> opens.
  function loadDetails(details) {
    if (loading.has(details)) return loading.get(details);
    const promise = fetchFragment(details.dataset.url).then((html) => {
      const target = $("ol.asm", details) || details;
      const note = $(".lazy-note", details);
      if (target === details) { if (note) note.replaceWith(fragmentOf(html)); else details.append(fragmentOf(html)); }
      else target.replaceChildren(fragmentOf(html));
      details.dataset.loaded = "true";
      observe(details);
      loaded(details, [details]);
      return details;
    }).catch((error) => { loading.delete(details); throw error; });
    loading.set(details, promise);
    return promise;
  }

  // Placeholders as tall as the lines they stand for (so the scroll bar tells the truth
  // and a drag lands where it should), loaded when they come within a screen of view.
  const observer = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      load(entry.target).catch(() => observer.observe(entry.target));
    }
  }, { rootMargin: "1000px 0px" }) : null;

  function lineHeight(list) {
    const lines = $$(":scope > .src-line", list);
    if (!lines.length) return 22;
    const first = lines[0].getBoundingClientRect(), last = lines[lines.length - 1].getBoundingClientRect();
    return Math.max(16, (last.bottom - first.top) / lines.length);
  }

  function observe(root = document) {
    const heights = new Map();
    for (const el of $$(PLACEHOLDERS, root)) {
      if (el.dataset.observed) continue;
      el.dataset.observed = "true";
      if (el.classList.contains("line-chunk")) {
        const list = el.parentElement;
        if (!heights.has(list)) heights.set(list, lineHeight(list));
        const lines = parseInt(el.dataset.last, 10) - parseInt(el.dataset.first, 10) + 1;
        el.style.height = `${Math.round(lines * heights.get(list))}px`;
      }
      if (observer) observer.observe(el);
    }
  }

  // A chunk of lines more than FAR_SCREENS screens above or below the view goes back to its
  // placeholder, exactly as tall, unless the reader is using it: a highlighted, hovered or
  // focused line, an open explanation, a selection in it. Looked at while scrolling.
  const FAR_SCREENS = 3;

  function inUse(elements) {
    const active = document.activeElement;
    const selection = window.getSelection && window.getSelection();
    return elements.some((el) => (active && el.contains(active)) ||
      (selection && selection.rangeCount && !selection.isCollapsed && selection.containsNode(el, true)) ||
      el.matches(".is-highlighted, .is-hovered") || el.querySelector(".is-highlighted, .is-hovered, .is-active, details[open]"));
  }

  function unloadFarChunks() {
    const margin = FAR_SCREENS * window.innerHeight;
    for (const chunk of Array.from(loadedChunks)) {
      const { placeholder, elements } = chunk;
      const first = elements[0], last = elements[elements.length - 1];
      if (!first.isConnected || !last.isConnected) { loadedChunks.delete(chunk); continue; }
      const top = first.getBoundingClientRect().top, bottom = last.getBoundingClientRect().bottom;
      if (bottom > -margin && top < window.innerHeight + margin) continue; // near: kept
      if (inUse(elements)) continue;
      loadedChunks.delete(chunk);
      loading.delete(placeholder);
      placeholder.classList.remove("is-loading", "load-failed");
      placeholder.removeAttribute("aria-busy");
      placeholder.style.height = `${Math.max(0, bottom - top)}px`; // as tall as what it stood for
      placeholder.dataset.observed = "true";
      first.before(placeholder);
      for (const el of elements) el.remove();
      if (observer) observer.observe(placeholder);
    }
  }

  // The chunk the page came with: its placeholder waits in a <template> before its lines.
  function adoptShownChunks(root = document) {
    for (const template of $$("template.chunk-shown", root)) {
      const placeholder = template.content.firstElementChild;
      if (!placeholder) continue;
      const first = parseInt(placeholder.dataset.first, 10), last = parseInt(placeholder.dataset.last, 10);
      const elements = $$(":scope > .src-line", template.parentElement).filter((li) =>
        li.dataset.file === placeholder.dataset.file && first <= +li.dataset.line && +li.dataset.line <= last);
      template.remove();
      if (elements.length) loadedChunks.add({ placeholder: document.importNode(placeholder, true), elements });
    }
  }

  let unloadTimer = 0; // at most one look every 300 ms while the reader scrolls, and one after
  document.addEventListener("scroll", () => {
    if (!loadedChunks.size || unloadTimer) return;
    unloadTimer = setTimeout(() => { unloadTimer = 0; unloadFarChunks(); }, 300);
  }, { capture: true, passive: true });

  // ---------- For explorer.js ----------

  function isBig() { return !!$("#result [data-decisions-url]"); }

  function placeholderOf(file, line) {
    return $$(".line-chunk[data-url]").find((el) => el.dataset.file === file &&
      parseInt(el.dataset.first, 10) <= line && line <= parseInt(el.dataset.last, 10));
  }

  // Resolves once the line is in the page (at once if it already is, or has no chunk).
  function ensureLine(file, line) {
    const placeholder = placeholderOf(file, line);
    return placeholder ? load(placeholder).then(() => true) : Promise.resolve(false);
  }

  // Every line's decisions and where each line's instructions are (one request per result).
  function index() {
    const holder = $("#result [data-decisions-url]");
    if (!holder) return Promise.resolve(null);
    if (!indexPromise || indexUrl !== holder.dataset.decisionsUrl) {
      indexUrl = holder.dataset.decisionsUrl;
      indexPromise = fetch(indexUrl).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    }
    return indexPromise;
  }

  // Resolves once the instructions of a line are in the page (loading its function's
  // listing, and the part of it that holds them); false when it has none.
  async function ensureAsm(file, line) {
    const data = await index();
    const at = data && data.asm[file] && data.asm[file][String(line)];
    if (!at) return false;
    const [fn, part] = at;
    const details = $$(".asm-function[data-url]").find((d) => d.dataset.url.endsWith(`/asm/${fn}`));
    if (!details) return false;
    if (!details.dataset.loaded) await loadDetails(details);
    details.open = true;
    if (part > 1) {
      const placeholder = $$(".asm-chunk[data-url]", details).find((el) => el.dataset.url.endsWith(`part=${part}`));
      if (placeholder) await load(placeholder);
    }
    return true;
  }

  document.addEventListener("toggle", (event) => {
    const details = event.target;
    if (details.matches && details.matches("details[data-url]") && details.open && !details.dataset.loaded) {
      loadDetails(details).catch(() => {});
    }
  }, true);

  // The links of the pages of lines, and of a placeholder: load in place, no new page.
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest(".line-pages a[data-first], .line-chunk > a");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    if (!link.closest("#result")) return; // a page of its own (the assembly's parts): follow it
    const hash = new URL(link.href, location.href).hash;
    if (!hash) return;
    event.preventDefault();
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = hash;
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target) { observe(event.detail.target); adoptShownChunks(event.detail.target); }
  });
  document.addEventListener("ee:loaded", (event) => observe(event.target));
  document.addEventListener("DOMContentLoaded", () => { observe(); adoptShownChunks(); });

  window.escapeExplorerBig = { isBig, ensureLine, ensureAsm, index, load };
})();
