"""Which characters a stored text may hold.

Names (titles, tags, list names) are one line of plain text: a control character in one
would forge lines in logs and calendar files, or end a C string early. A description is
free text, so it keeps its line breaks and tabs, and only those.
"""

import re

# C0 controls and DEL: never part of a name.
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
# The same, less the tab and the line breaks (CR LF from a browser's text area).
_FREE_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_name(value: object) -> object:
    """`value` unchanged; ValueError if it is text holding a control character. Applied before
    trimming, so a tab or line break at either end is refused too, not silently dropped."""
    if isinstance(value, str) and _NAME_FORBIDDEN.search(value):
        raise ValueError("must not contain control characters (line breaks, tabs, NUL, ...)")
    return value


def free_text(value: object) -> object:
    """`value` unchanged; ValueError if it is text with a control character other than tab or
    line break."""
    if isinstance(value, str) and _FREE_TEXT_FORBIDDEN.search(value):
        raise ValueError("must not contain control characters other than tabs and line breaks")
    return value
