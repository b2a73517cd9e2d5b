"""The compiler's ssa.html, re-serialised through an allow-list, and its CSP.

The compiler escapes most of what it prints into ssa.html, but not everything: a struct
tag inside a generic shape type name (``v[go.shape.struct { X int "json:\\"</title>
<script>…" }]``) lands raw in the body, the "name …" lists and the value argument lists.
``sanitize`` parses the page with ``html.parser.HTMLParser`` and writes it again:

- only the markup the compiler itself writes comes out as markup, measured on the pages
  of Go 1.21.13 and 1.27.3 and checked against ``cmd/compile/internal/ssa/html.go`` (see
  ``TAGS``): per tag, the attributes it uses, with exact values where the value is code
  (the one ``<meta>``, the script's ``type``, ``href="#…"``, the three ``onclick``
  handlers, the few ``style`` declarations);
- ``<meta>``, ``<style>`` and ``<script>`` only inside ``<head>``, once each; the
  script's and the style's text is kept verbatim, every other text node is escaped;
- everything else (another tag or attribute, a second script, anything head-like after
  the head, comments, doctypes, processing instructions, stray end tags, a tag cut off
  at the end) comes out as escaped text showing exactly the characters the compiler
  printed, so the reader still sees the struct tag literally and nothing of it is markup.

Everything written is canonical (lower-case allowed tag names, double-quoted escaped
attribute values, ``<``/``>``/``&`` escaped in text), so the browser reads the result the
way this parser did, and ``sanitize`` is idempotent. Standard library only, no Django.

``csp_for`` is the Content-Security-Policy to serve a sanitized page with: an opaque
origin (``sandbox allow-scripts``), nothing loaded from anywhere, and only the head's one
script and the three handler strings allowed to run (CSP Level 3 hashes and
``'unsafe-hashes'``), so even markup that got past the allow-list could not run script.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.entities import html5 as _HTML5_ENTITIES
from html.parser import HTMLParser

# The three inline event handlers of the compiler's page, and the tag each is on.
HANDLERS = {
    "button": "hideBlock(this)",
    "a": "toggle_visibility('help');return false;",
    "input": "toggleDarkMode();",
}

_ANY = None  # any value (escaped on output)
_HREF_RE = re.compile(r"#[A-Za-z0-9_-]*")
# The compiler's style attributes: "width: 8%", "cursor: pointer",
# "margin-left: 15px; cursor: pointer;". Declarations of these properties, plain values.
_STYLE_RE = re.compile(r"(?:(?:width|cursor|margin-left): [a-z0-9.%-]+;? ?)+")

# tag -> {attribute -> allowed values: a set of exact strings, a compiled regex (full
# match), or _ANY}. Measured on the pages of Go 1.21.13 and 1.27.3.
TAGS: dict[str, dict[str, object]] = {
    "html": {},
    "head": {},
    "body": {},
    "meta": {"http-equiv": {"Content-Type"}, "content": {"text/html;charset=UTF-8"}},
    "style": {},
    "script": {"type": {"text/javascript"}},
    "h1": {},
    "h2": {},
    "div": {"class": _ANY, "id": _ANY, "style": _STYLE_RE},
    "span": {"class": _ANY},
    "ul": {"class": _ANY},
    "li": {"class": _ANY},
    "table": {},
    "tr": {},
    "td": {"class": _ANY, "id": _ANY},
    "b": {},
    "s": {},
    "code": {},
    "pre": {},
    "p": {},
    "strong": {},
    "dl": {"class": _ANY},
    "dt": {"class": _ANY},
    "dd": {"class": _ANY},
    "button": {"onclick": {HANDLERS["button"]}},
    "a": {"href": _HREF_RE, "id": _ANY, "onclick": {HANDLERS["a"]}},
    "label": {"for": _ANY, "style": _STYLE_RE},
    "input": {"type": {"checkbox"}, "id": _ANY, "style": _STYLE_RE, "onclick": {HANDLERS["input"]}},
}
# Attributes a tag cannot go without.
REQUIRED = {"meta": {"http-equiv", "content"}, "script": {"type"}, "input": {"type"}}
VOID = {"meta", "input"}
HEAD_ONLY = {"meta", "style", "script"}  # allowed once each, inside <head> only
ONCE = {"html", "head", "body"}
# Text that would end or change the raw text of the allowed <script>/<style> in a browser
# (end tags, or the script data escape states of "<!--" and "<script").
_SCRIPT_UNSAFE = re.compile(r"</script|<!--|<script", re.I)
_STYLE_UNSAFE = re.compile(r"</style", re.I)
_SPACE = " \t\n\r\f"

# Page states, in order.
_START, _HEAD, _AFTER_HEAD, _BODY = range(4)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\x00", "\ufffd")


def _escape_attr(value: str) -> str:
    return _escape_text(value).replace('"', "&quot;")


def _allowed_value(rule: object, value: str | None) -> bool:
    if value is None:
        return False
    if rule is _ANY:
        return True
    if isinstance(rule, re.Pattern):
        return rule.fullmatch(value) is not None
    return value in rule  # type: ignore[operator]


class _Stop(Exception):
    pass


class _Sanitizer(HTMLParser):
    def __init__(self, *, head_only: bool = False) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.state = _START
        self.seen: set[str] = set()  # tags of ONCE and HEAD_ONLY already written
        self.open: dict[str, int] = {}  # allowed non-void elements started and not ended
        self.raw_elem: str | None = None  # "script"/"style" whose text is being buffered
        self.raw_start = ""  # its start tag, as written (canonical) and as printed (raw)
        self.raw_start_printed = ""
        self.raw_text: list[str] = []
        self.script: str | None = None  # the allowed script's text, once closed
        self.head_only = head_only  # stop at the body (script_hashes)
        self._endtag: str | None = None
        self._data_in_construct = False
        self._entity: str | None = None
        self._body_tags: dict[str, str] = {}  # a body tag as printed -> as written, "" if not allowed

    # -- output -------------------------------------------------------------------
    def _text(self, printed: str) -> None:
        """Characters the compiler printed, shown as they are: never markup."""
        if not printed:
            return
        if self.raw_elem is not None:
            self.raw_text.append(printed)
            return
        if self.state < _BODY and printed.strip(_SPACE):
            self._leave_head()
        self.out.append(_escape_text(printed))

    def _leave_head(self) -> None:
        """Anything but whitespace and head elements before <body> starts the body."""
        if self.head_only:
            raise _Stop
        self.state = _BODY

    # -- start tags -----------------------------------------------------------------
    def _tag_allowed(self, tag: str, attrs: list[tuple[str, str | None]], selfclosing: bool) -> bool:
        rules = TAGS.get(tag)
        if rules is None:
            return False
        if selfclosing and tag not in VOID:  # "<div/>" is a start tag to a browser
            return False
        names = [name for name, _ in attrs]
        if len(set(names)) != len(names) or not REQUIRED.get(tag, set()) <= set(names):
            return False
        if not all(name in rules and _allowed_value(rules[name], value) for name, value in attrs):
            return False
        if tag in ONCE or tag in HEAD_ONLY:
            if tag in self.seen:
                return False
        if tag in HEAD_ONLY:
            return self.state == _HEAD
        if tag == "html":
            return self.state == _START and not self.seen & {"head", "body"}
        if tag == "head":
            return self.state == _START
        if tag == "body":
            return self.state < _BODY
        return True

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], selfclosing: bool) -> None:
        printed = self.get_starttag_text() or ""
        if self.raw_elem is not None:  # cannot happen: the parser is in CDATA mode
            self.raw_text.append(printed)
            return
        # Most of a page is the same few body tags over and over: what is decided for a
        # body tag depends on its text alone, so it is decided once.
        written = self._body_tags.get(printed)
        if written is not None:
            if written:
                if self.state < _BODY:
                    self._leave_head()
                self.open[tag] = self.open.get(tag, 0) + (tag not in VOID)
                self.out.append(written)
            else:
                self._text(printed)
            return
        if tag not in ONCE and tag not in HEAD_ONLY:
            self._body_tags[printed] = ""
        if not self._tag_allowed(tag, attrs, selfclosing):
            self._text(printed)
            return
        written = "<" + tag + "".join(f' {name}="{_escape_attr(value or "")}"' for name, value in attrs)
        written += " />" if selfclosing else ">"
        if tag in ONCE or tag in HEAD_ONLY:
            self.seen.add(tag)
        if tag == "head":
            self.state = _HEAD
        elif tag not in HEAD_ONLY and tag != "html" and self.state < _BODY:
            self._leave_head()  # <body>, or a body element that implies it
        if tag in ("script", "style"):
            # Kept only once its end tag arrives with safe text in between.
            self.raw_elem, self.raw_start, self.raw_start_printed, self.raw_text = tag, written, printed, []
            self.set_cdata_mode(tag)
            return
        if tag not in VOID and tag != "head":
            self.open[tag] = self.open.get(tag, 0) + 1
        if printed in self._body_tags:
            self._body_tags[printed] = written
        self.out.append(written)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, selfclosing=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, selfclosing=True)

    def set_cdata_mode(self, elem: str, **kwargs: object) -> None:
        # The parser calls this after every <script>/<style> start tag (newer Pythons
        # after <title>, <textarea>, <xmp>… too); only the allowed ones (which set
        # raw_elem) have raw text. Another one is escaped text, and what follows it is
        # parsed as usual (not swallowed up to a "</script>").
        if self.raw_elem == elem:
            super().set_cdata_mode(elem, **kwargs)

    # -- end tags ---------------------------------------------------------------------
    def parse_endtag(self, i: int) -> int:
        self._endtag, self._data_in_construct = None, False
        k = super().parse_endtag(i)
        if k > i:
            printed = self.rawdata[i:k]
            if self._endtag is not None:
                self._end(self._endtag, printed)
            elif not self._data_in_construct:  # "</>", "</ 1>": nothing for the browser
                self._text(printed)
        self._endtag = None
        return k

    def handle_endtag(self, tag: str) -> None:
        self._endtag = tag

    def _end(self, tag: str, printed: str) -> None:
        if self.raw_elem is not None:
            if tag == self.raw_elem:
                self._close_raw(printed)
            else:
                self.raw_text.append(printed)
            return
        if tag == "head":
            if self.state == _HEAD:
                self.state = _AFTER_HEAD
                self.out.append("</head>")
            else:
                self._text(printed)
            return
        if tag in TAGS and tag not in VOID and self.open.get(tag, 0) > 0:
            self.open[tag] -= 1
            self.out.append(f"</{tag}>")
            return
        self._text(printed)

    def _close_raw(self, printed_end: str) -> None:
        tag, text = self.raw_elem, "".join(self.raw_text)
        self.raw_elem = None
        unsafe = _SCRIPT_UNSAFE if tag == "script" else _STYLE_UNSAFE
        if unsafe.search(text) or "\x00" in text:
            self.seen.discard(tag)
            self._text(self.raw_start_printed)
            self._text(text)
            self._text(printed_end)
            return
        self.out.append(f"{self.raw_start}{text}</{tag}>")
        if tag == "script":
            self.script = text

    # -- text -------------------------------------------------------------------------
    def handle_data(self, data: str) -> None:
        self._data_in_construct = True
        self._text(data)

    def handle_entityref(self, name: str) -> None:
        # Written by updatepos, which the parser calls next with the reference's span:
        # only there is it known whether the compiler printed the ";".
        self._entity = name

    def updatepos(self, i: int, j: int) -> int:
        if self._entity is not None:
            name, self._entity = self._entity, None
            printed = self.rawdata[i:j]
            if printed == f"&{name};" and f"{name};" in _HTML5_ENTITIES and self.raw_elem is None:
                if self.state < _BODY:
                    self._leave_head()
                self.out.append(printed)
            else:  # "&r[*int]" (a closure's captured variable), "&pi": shown as printed
                self._text(printed)
        return super().updatepos(i, j)

    def handle_charref(self, name: str) -> None:
        if self.raw_elem is not None:
            self.raw_text.append(f"&#{name}")
            return
        if self.state < _BODY:
            self._leave_head()
        self.out.append(f"&#{name};")  # digits or x + hex digits: never markup

    # -- comments, declarations, processing instructions: shown as printed -------------
    def parse_comment(self, i: int, report: int = 1) -> int:
        k = super().parse_comment(i, report=0)
        if k > i:
            self._text(self.rawdata[i:k])
        return k

    def parse_html_declaration(self, i: int) -> int:
        # "<!DOCTYPE …>", "<![CDATA[…>", "<!…>": up to the first ">", as a browser's bogus
        # comment (the base class raises on some of these, e.g. "<![x[").
        k = self.rawdata.find(">", i + 2)
        if k < 0:
            return -1
        self._text(self.rawdata[i : k + 1])
        return k + 1

    def parse_pi(self, i: int) -> int:
        k = super().parse_pi(i)
        if k > i:
            self._text(self.rawdata[i:k])
        return k

    # The handlers of those constructs write nothing: the parse_* methods above do.
    def handle_comment(self, data: str) -> None:
        pass

    def handle_decl(self, decl: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass

    # -- end of input -------------------------------------------------------------------
    def finish(self, page: str) -> str:
        try:
            self.feed(page)
            # The parser gives up early on some input ("&#;"), leaving the rest for more
            # data, and close() would then take all of that rest as one piece of text.
            while self.rawdata:
                left = len(self.rawdata)
                self.goahead(0)
                if len(self.rawdata) == left:
                    break
            self.close()
        except _Stop:
            return ""
        if self.raw_elem is not None:  # a <script>/<style> never closed: shown as printed
            self.raw_text.append(self.rawdata)
            self.rawdata = ""
            tag, text = self.raw_elem, "".join(self.raw_text)
            self.raw_elem = None
            self.seen.discard(tag)
            self._text(self.raw_start_printed)
            self._text(text)
        if self.rawdata:  # whatever the parser left unconsumed
            self._text(self.rawdata)
            self.rawdata = ""
        return "".join(self.out)


def sanitize(page: str) -> str:
    """The compiler's ssa.html with only the compiler's own markup left as markup; every
    other piece of it as escaped text (see the module docstring). Idempotent."""
    try:
        return _Sanitizer().finish(page)
    except AssertionError:  # the parser's own consistency checks: all of it as text
        return _escape_text(page)


def _source_hash(text: str) -> str:
    # As a browser hashes it: after its input stream's newline normalisation.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def head_script(page: str) -> str | None:
    """The text of the page's allowed head script (as ``sanitize`` keeps it), or None."""
    parser = _Sanitizer(head_only=True)
    parser.finish(page)
    return parser.script


def script_hashes(page: str) -> list[str]:
    """CSP source expressions (``'sha256-…'``) of the head script of ``page`` and of the
    three handler strings of the compiler's page."""
    script = head_script(page)
    scripts = [_source_hash(script)] if script is not None else []
    return scripts + [_source_hash(handler) for handler in HANDLERS.values()]


def _script_src(page: str) -> str:
    hashes = script_hashes(page)
    n_script = len(hashes) - len(HANDLERS)
    return " ".join([*hashes[:n_script], "'unsafe-hashes'", *hashes[n_script:]])


def csp_for(sanitized_page: str) -> str:
    """The Content-Security-Policy to serve a sanitized page with.

    An opaque origin that may run scripts (``sandbox allow-scripts``: no top navigation,
    pop-ups, forms or modal dialogs), nothing loaded from anywhere (``default-src
    'none'``, images only as data: URLs), and as script only the head's one script and
    the compiler's three inline handlers, by hash (``'unsafe-hashes'`` lets a hash allow
    an event handler attribute; no ``'unsafe-inline'``). ``navigate-to`` is not used: it
    was dropped from CSP and Chromium never shipped it.
    """
    return (
        "sandbox allow-scripts; default-src 'none'; "
        f"script-src {_script_src(sanitized_page)}; "
        "style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'"
    )
