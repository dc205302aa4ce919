"""How deeply an HTML fragment nests, measured in one linear pass before anything parses it.

Why not just let the sanitiser parse it? html5ever (inside nh3) does scope checks that walk the
stack of open elements, so its cost grows with the square of the nesting depth: 100,000 nested
`<div>` take ~20 s. The check has to be cheaper than the thing it guards, on any input.

Why not `html.parser`? On the Python we run (3.11.7) it is itself quadratic on some inputs
(200,000 unterminated `<!--` ran for minutes; later patch releases fix that) and it is 6x slower
than nh3 on a megabyte of ordinary tags. This scanner is a loop over `str.find` and anchored
regular expressions with possessive quantifiers (no backtracking): linear in the input, whatever
it is (~0.2-0.6 s for a megabyte of tags).

The measure is an upper bound of the parser's stack of open elements, not a replica of the
HTML tree builder (that is hundreds of rules). It tokenises as the HTML tokenizer does where a
disagreement could hide depth — tags with quoted attribute values, comments, bogus comments,
raw-text elements — and it is deliberately pessimistic everywhere else:

- an end tag closes an element only when it names the innermost open one, so a stray or
  misnested end tag (which the tree builder may ignore, or answer by re-opening formatting
  elements) does not lower the count;
- elements the parser closes itself (`<p>` before `<div>`, `<li>` before `<li>`) stay counted,
  except for the siblings browsers close on sight (`<p>`, `<li>`, `<dt>`, `<dd>`, `<tr>`,
  `<td>`, `<th>`, `<option>` directly inside one of their kind), so sloppy but ordinary HTML
  ("<p>a<p>b<p>c") is not counted as nested;
- inside `<svg>`, `<math>` or `<select>`, and after a `<script>` whose text holds `<!--`, the
  tokenizer's rules change in ways not worth modelling: from there on every start tag counts and
  nothing closes.

It may undercount only by the wrapper elements the parser adds itself (a table's `<tbody>` and
`<tr>`): a constant factor, which is all the cost bound needs.
"""

from __future__ import annotations

import re

__all__ = ["nesting_depth"]

_VOID = frozenset(
    "area base basefont bgsound br col embed frame hr img input keygen link meta param source "
    "track wbr".split()
)
# Their text runs to the matching end tag; no markup inside (html5ever parses with scripting
# on, so <noscript> is one of them).
_RAW_TEXT = frozenset("style xmp iframe noembed noframes noscript textarea title".split())
# The tree builder closes an open one of these when another of its group starts directly
# inside it ("<p>a<p>b", "<li>a<li>b"): name -> group.
_GROUP = {
    "p": "p",
    "li": "li",
    "dt": "d",
    "dd": "d",
    "tr": "tr",
    "td": "cell",
    "th": "cell",
    "option": "option",
}
_PESSIMISTIC = frozenset({"svg", "math", "select"})

_WS = "\t\n\f\r "
_TAG_NAME = re.compile(r"[A-Za-z][^\t\n\f\r />]*+")
# The rest of a tag after its name, to its closing ">": attribute names run to whitespace,
# "/", ">" or "="; a value is double-quoted, single-quoted (both may hold ">") or bare.
_TAG_REST = re.compile(
    r"(?:[\t\n\f\r /]++"
    r"|=?+[^\t\n\f\r />=]*+"
    r"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+|))?+"
    r")*+>"
)
# A comment ends at "-->" or "--!>"; "<!-->" and "<!--->" are empty comments.
_COMMENT_END = re.compile(r"-?>|.*?--!?>", re.S)
_ANY_START = re.compile(r"<([A-Za-z][^\t\n\f\r />]*+)")


def nesting_depth(html: str, limit: int) -> int:
    """The deepest element nesting of `html`, as an upper bound; stops counting past `limit`
    (returns a number > limit as soon as one is seen)."""
    stack: list[str] = []
    deepest = 0
    pos = 0
    end = len(html)
    while True:
        lt = html.find("<", pos)
        if lt < 0 or lt + 1 >= end:
            return deepest
        nxt = html[lt + 1]
        if nxt == "!":
            if html.startswith("<!--", lt):
                match = _COMMENT_END.match(html, lt + 4)
                if match is None:
                    return deepest  # an unterminated comment runs to the end
                pos = match.end()
            else:  # <!DOCTYPE …>, <![CDATA[…]> and other bogus comments end at the first ">"
                close = html.find(">", lt + 2)
                if close < 0:
                    return deepest
                pos = close + 1
            continue
        if nxt == "?":
            close = html.find(">", lt + 2)
            if close < 0:
                return deepest
            pos = close + 1
            continue
        if nxt == "/":
            name_match = _TAG_NAME.match(html, lt + 2)
            if name_match is None:  # "</>" is dropped, "</ …>" is a bogus comment
                close = html.find(">", lt + 2)
                if close < 0:
                    return deepest
                pos = close + 1
                continue
            rest = _TAG_REST.match(html, name_match.end())
            if rest is None:
                return deepest  # a tag left open at the end is dropped with all that follows
            pos = rest.end()
            if stack and stack[-1] == name_match.group().lower():
                stack.pop()
            continue
        name_match = _TAG_NAME.match(html, lt + 1)
        if name_match is None:
            pos = lt + 1  # "<" not followed by a letter is text
            continue
        rest = _TAG_REST.match(html, name_match.end())
        if rest is None:
            return deepest
        pos = rest.end()
        name = name_match.group().lower()
        if name in _VOID:
            continue
        group = _GROUP.get(name)
        if group is not None and stack and _GROUP.get(stack[-1]) == group:
            stack.pop()
        stack.append(name)
        deepest = max(deepest, len(stack))
        if deepest > limit:
            return deepest
        if name in _PESSIMISTIC:
            return _count_the_rest(html, pos, deepest, limit)
        if name in _RAW_TEXT or name == "script":
            text_end = _raw_text_end(html, pos, name)
            if text_end < 0:
                return deepest  # the text runs to the end of the fragment
            if name == "script" and "<!--" in html[pos:text_end]:
                # Escaped script text ("<!--<script>…") has its own rules for where it ends.
                return _count_the_rest(html, pos, deepest, limit)
            pos = text_end
            stack.pop()
        elif name == "plaintext":
            return deepest  # everything after <plaintext> is text


def _raw_text_end(html: str, pos: int, name: str) -> int:
    """Where the raw text that starts at `pos` ends (after its end tag), or -1: at the first
    "</name" followed by whitespace, "/" or ">", in any letter case."""
    pattern = re.compile(rf"</{name}(?=[\t\n\f\r />])", re.I)
    match = pattern.search(html, pos)
    if match is None:
        return -1
    rest = _TAG_REST.match(html, match.end())
    return rest.end() if rest is not None else -1


def _count_the_rest(html: str, pos: int, depth: int, limit: int) -> int:
    """Pessimistic from `pos` on: every non-void start tag nests one level deeper."""
    for match in _ANY_START.finditer(html, pos):
        if match.group(1).lower() not in _VOID:
            depth += 1
            if depth > limit:
                break
    return depth
