"""The shared parse stage: bytes -> text -> title and links. Pure, no I/O.

Title and links come from lexbor (selectolax), which is fast enough that parsing
is rarely the bottleneck; the BeautifulSoup tree spiders may ask for
(:attr:`crawlkit.Page.soup`) is built only on demand.
"""

from __future__ import annotations

import codecs
import html
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from selectolax.lexbor import LexborHTMLParser

from .urls import canonicalize, resolve_link, resolve_links_keyed

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def content_type_of(headers: Mapping[str, str]) -> str:
    """The media type of a response, lower-case, without parameters."""
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_html(content_type: str, body: bytes) -> bool:
    """True when a body should go through the HTML parser.

    A declared HTML type is parsed; any other declared type is not. With no
    Content-Type at all, the body is sniffed for a leading ``<``.
    """
    if content_type:
        return content_type in _HTML_TYPES
    return body.lstrip()[:1] == b"<"


# Python text codecs no page can mean: they decode domain names or backslash escapes
# (warning on bad ones), refuse errors="replace", or raise on some input whatever it is
_NOT_CHARSETS = frozenset(
    {"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"}
)


def _usable(encoding: str | None) -> str | None:
    """The codec name of a declared charset, or ``None`` when it cannot decode a page."""
    if not encoding:
        return None
    try:
        name = codecs.lookup(encoding).name
        # rot13, base64, zlib: codecs, but not text encodings (an empty input skips the codec)
        b"a".decode(name, "replace")
    except (LookupError, UnicodeError):
        return None
    return None if name in _NOT_CHARSETS else name


def detect_encoding(body: bytes, headers: Mapping[str, str]) -> tuple[str, int]:
    """Pick the encoding of ``body``: BOM, then header, then ``<meta>``, then UTF-8.

    Returns the codec name and the number of BOM bytes to skip.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    match = _HEADER_CHARSET.search(headers.get("content-type", ""))
    encoding = _usable(match.group(1)) if match else None
    if encoding is None:
        meta = _META_CHARSET.search(body[:4096])
        encoding = _usable(meta.group(1).decode("ascii", "replace")) if meta else None
    return encoding or "utf-8", 0


def decode_body(body: bytes, headers: Mapping[str, str]) -> str:
    """Decode ``body`` to text; invalid bytes become U+FFFD, never an exception."""
    return _decoded(body, *detect_encoding(body, headers))


def _decoded(body: bytes, encoding: str, skip: int) -> str:
    try:
        return body[skip:].decode(encoding, errors="replace")
    except UnicodeError:  # a codec that fails on some input whatever the handler
        return body[skip:].decode("utf-8", errors="replace")


# codecs that read ASCII bytes as ASCII, as the HTML parser reads bytes
_ASCII_COMPATIBLE = frozenset({"ascii", "iso8859-1", "cp1252"})


def decode_html(body: bytes, headers: Mapping[str, str]) -> tuple[str, bytes | None]:
    """:func:`decode_body`, and ``body`` itself when it is what the HTML parser
    would read from the text: UTF-8 without a BOM, decoded without a replacement
    character. :func:`extract` then parses the bytes, which spares re-encoding the
    text (a third of the parse time of a page that is not all ASCII)."""
    encoding, skip = detect_encoding(body, headers)
    text = _decoded(body, encoding, skip)
    if skip == 0 and (encoding == "utf-8" or (encoding in _ASCII_COMPATIBLE and body.isascii())) \
            and "\ufffd" not in text:
        return text, body
    return text, None


DEEP_TAGS = 10_000
"""Above this many tags, a document is checked for pathological nesting."""


class Extracted(tuple[str | None, tuple[str, ...]]):
    """``(title, links)`` as :func:`extract` returns them, with the URL the page's
    relative links resolve against as :attr:`base_url` (``<base href>`` when the
    page has one, else the page's URL)."""

    base_url: str

    def __new__(cls, title: str | None, links: tuple[str, ...], base_url: str) -> Extracted:
        self = super().__new__(cls, (title, links))
        self.base_url = base_url
        return self


def _unique(urls: list[str]) -> tuple[str, ...]:
    """``urls`` once each by canonical form, the first spelling kept, in order."""
    keys: set[str] = set()
    out: list[str] = []
    for url in urls:
        key = canonicalize(url)
        if key not in keys:
            keys.add(key)
            out.append(url)
    return tuple(out)


def extract(text: str, base_url: str, utf8: bytes | None = None) -> Extracted:
    """Return the page title (whitespace collapsed) and its absolute links, as sent.

    Links honour ``<base href>``, lose their fragment, keep document order and
    appear once each (by canonical form: the first spelling is kept). They are
    in their :func:`~crawlkit.urls.safe_url` form: query order, ``?flag`` and
    escapes as the page wrote them. Links a crawler must not follow are left out
    (see :func:`crawlkit.urls.resolve_link`). The result's ``base_url`` is where
    the page's relative links resolve. ``utf8``, when given, is ``text`` as UTF-8
    (see :func:`decode_html`): the tree is built from it.

    HTML5 tree building costs time proportional to the nesting depth for every
    tag, so a hostile page of 100,000 unclosed ``<div>`` would take many seconds.
    Documents with that many unclosed tags are read by a linear scan instead.
    """
    if _maybe_deep(text) and _unclosed_tags(text) > DEEP_TAGS // 2:
        return extract_by_scan(text, base_url)
    tree = LexborHTMLParser(text if utf8 is None else utf8)
    # tags() walks the tree natively; a CSS selector would cost more to compile
    # (~50 us per call) than a small page costs to parse
    title: str | None = None
    for node in tree.tags("title"):
        title = " ".join(node.text(deep=True).split())
        break
    base: str | None = None
    for node in tree.tags("base"):
        href = node.attributes.get("href")
        if href is not None or "href" in node.attributes:
            base = href or ""
            break
    # <area> is rare: only then pay for the selector that keeps it in document order
    nodes = tree.css("a[href], area[href]") if tree.tags("area") else tree.tags("a")
    hrefs: list[str] = []
    for node in nodes:
        href = node.attributes.get("href")
        if href:
            hrefs.append(href)
    if base:
        resolved = resolve_link(base_url, base)
        if resolved is not None:
            base_url = resolved
    links = [sent for sent, _ in resolve_links_keyed(base_url, hrefs)]
    return Extracted(title, tuple(links), base_url)


_TAG_OPEN = re.compile(r"<[a-zA-Z]")
_TITLE = re.compile(r"<title\b[^>]*>(.*?)</title\s*>", re.I | re.S)
_LINK_TAG = re.compile(r"<(?:a|area)\b[^>]*>", re.I)
_BASE_TAG = re.compile(r"<base\b[^>]*>", re.I)
_HREF = re.compile(r"""\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
_MARKUP = re.compile(r"<[^>]*>")


def _maybe_deep(text: str) -> bool:
    """Whether ``text`` may hold more than ``DEEP_TAGS // 2`` unclosed tags among more
    than ``DEEP_TAGS``, by counting alone: every opening tag is a ``<`` that is not a
    ``</``, so openings minus closings is at most ``<`` - 2 x ``</``."""
    opened = text.count("<")
    return opened > DEEP_TAGS and opened - 2 * text.count("</") > DEEP_TAGS // 2


def _unclosed_tags(text: str) -> int:
    return len(_TAG_OPEN.findall(text)) - text.count("</")


def extract_by_scan(text: str, base_url: str) -> Extracted:
    """:func:`extract` by regular expressions, linear in the size of the document."""
    title = None
    match = _TITLE.search(text)
    if match is not None:
        title = " ".join(html.unescape(_MARKUP.sub("", match.group(1))).split())
    base = _BASE_TAG.search(text)
    if base is not None:
        found = _HREF.search(base.group(0))
        href = next((g for g in found.groups() if g is not None), "") if found else ""
        resolved = resolve_link(base_url, html.unescape(href)) if href else None
        if resolved is not None:
            base_url = resolved
    links: list[str] = []
    for tag in _LINK_TAG.finditer(text):
        found = _HREF.search(tag.group(0))
        if found is None:
            continue
        href = html.unescape(next(g for g in found.groups() if g is not None))
        url = resolve_link(base_url, href)
        if url is not None:
            links.append(url)
    return Extracted(title or None, _unique(links), base_url)



_XML_DECLARATION = re.compile(r"\s*<\?xml\b[^>]*>")
def make_soup(text: str) -> BeautifulSoup:
    """An HTML document parsed by BeautifulSoup on the lxml builder.

    An XHTML page's XML declaration is left out first: the HTML parser ignores it
    anyway, and bs4 would take it for XML parsed as HTML and warn
    (``XMLParsedAsHTMLWarning``).
    """
    from bs4 import BeautifulSoup

    declaration = _XML_DECLARATION.match(text)
    if declaration is not None:
        text = text[declaration.end():]
    return BeautifulSoup(text, "lxml")


_BUTTON_TYPES = frozenset({"submit", "image", "reset", "button", "file"})
"""Input types a form does not send by themselves (file uploads are not supported)."""


_LISTED = frozenset({"button", "fieldset", "input", "object", "output", "select", "textarea"})
"""The elements a ``form`` attribute ties to a form (HTML's form-associated "listed"
elements)."""


def form_owner(element: Any) -> Any:
    """The ``<form>`` a control (an lxml element) belongs to, by the HTML standard,
    or ``None``: with a ``form`` attribute, the document's first element with that
    ``id`` if it is a ``<form>`` (else none, even for a control inside a form);
    without, the nearest ``<form>`` around it. A ``<form>`` is its own."""
    if element.tag == "form":
        return element
    if element.tag in _LISTED and element.get("form") is not None:
        return _form_by_id(element, element.get("form"))
    return next(element.iterancestors("form"), None)


def _form_by_id(element: Any, wanted: str) -> Any:
    """The first element of ``element``'s document with id ``wanted`` when it is a
    ``<form>``, else ``None``."""
    if not wanted:
        return None
    for found in element.getroottree().getroot().iter():
        if found.get("id") == wanted:
            return found if found.tag == "form" else None
    return None


def form_controls(form: Any, *tags: str) -> list[Any]:
    """The ``tags`` elements whose :func:`form_owner` is ``form``, in document order:
    those inside it, less any whose ``form`` attribute names another form, and those
    anywhere in the page whose ``form`` attribute names it (lxml's
    :attr:`~lxml.html.FormElement.inputs` ignores the attribute)."""
    owners: dict[str, Any] = {}  # form attribute value -> the form it names
    out: list[Any] = []
    for element in form.getroottree().getroot().iter(*tags):
        wanted = element.get("form")
        if wanted is None or element.tag not in _LISTED:
            owner = next(element.iterancestors("form"), None)
        else:
            if wanted not in owners:
                owners[wanted] = _form_by_id(element, wanted)
            owner = owners[wanted]
        if owner is form:
            out.append(element)
    return out


def form_values(form: Any) -> list[tuple[str, str]]:
    """What an HTML ``<form>`` (an lxml element, as parsel's tree holds it) sends
    when submitted unchanged, in document order: hidden fields and the values of
    enabled, named inputs (empty text ones as ``""``), checked checkboxes and radio
    buttons (``"on"`` without a value), selected options (else a select's first),
    textareas, then the form's first submit button (``<input type=submit>`` or a
    ``<button>`` of type submit) when it has a name, as a browser sends the default
    button when Enter is pressed in a field. The form's controls are those
    :func:`form_controls` finds (the ``form`` attribute respected); the rules for
    each control's value are lxml's (:class:`lxml.html.InputElement` and its
    siblings)."""
    pairs: list[tuple[str, str]] = []
    controls = form_controls(form, "select", "input", "textarea")
    checked_radio: dict[str, Any] = {}  # checking a radio unchecks the others of its group
    for element in controls:
        if element.tag == "input" and element.type == "radio" and element.checked:
            checked_radio[element.name] = element
    for element in controls:
        name = element.name
        if not name or _disabled(element):
            continue
        tag = element.tag
        if tag == "textarea":
            text = element.value or ""
            # the HTML parser drops the line break right after <textarea>; lxml keeps it
            pairs.append((name, text[1:] if text.startswith("\n") else text))
        elif tag == "select":
            value = element.value
            if element.multiple:
                pairs.extend((name, _option_value(element, one)) for one in value)
            elif value is not None:
                pairs.append((name, _option_value(element, value)))
        elif element.type not in _BUTTON_TYPES:
            if element.checkable:
                if not element.checked or (element.type == "radio"
                                           and checked_radio.get(name) is not element):
                    continue
                value = element.get("value")  # an empty value is sent empty; none is "on"
                pairs.append((name, "on" if value is None else value))
                continue
            pairs.append((name, element.value or ""))
    button = default_button(form)
    if button is not None and button.get("name"):
        pairs.append((button.get("name"), button.get("value") or ""))
    return pairs


def _option_value(select: Any, value: Any) -> str:
    """The value lxml read for an option of ``select``; an option without a ``value``
    attribute stands for its text, whitespace collapsed as a browser reads it."""
    text = str(value)
    if text.isprintable() and "  " not in text:
        return text
    for option in select.iter("option"):
        if option.get("value") is None and option.text_content().strip() == text:
            return " ".join(text.split())
    return text


def default_button(form: Any) -> Any:
    """The button Enter submits ``form`` with: its first enabled submit button
    (``<input type=submit>`` or a ``<button>`` of type submit; the ``form``
    attribute respected, see :func:`form_controls`), or ``None``. Its
    ``formaction`` and ``formmethod`` override the form's."""
    for element in form_controls(form, "input", "button"):
        kind = (element.get("type") or ("submit" if element.tag == "button" else "text")).lower()
        if kind == "submit" and not _disabled(element):
            return element
    return None


def _disabled(element: Any) -> bool:
    """Whether a form control is disabled: by its own attribute, or by a disabled
    ``<fieldset>`` around it (unless it is in that fieldset's first ``<legend>``)."""
    if "disabled" in element.attrib:
        return True
    for fieldset in element.iterancestors("fieldset"):
        if "disabled" in fieldset.attrib:
            legend = next((child for child in fieldset if child.tag == "legend"), None)
            if legend is None or not any(up is legend for up in element.iterancestors("legend")):
                return True
    return False
