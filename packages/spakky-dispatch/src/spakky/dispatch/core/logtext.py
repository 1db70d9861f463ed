"""Untrusted text in log lines: one line, printable, bounded.

Task names, task ids, header and label names come from the broker, where
anyone who can write to it chooses them. ``printable`` makes such a value safe
to put in a log line: a newline or another control character cannot start a
forged line or move the terminal's cursor, and a megabyte-long id cannot flood
the log.
"""

LOG_FIELD_LIMIT = 200
"""Characters of one untrusted value kept in a log line; the rest is counted."""


def printable(value: object, limit: int | None = LOG_FIELD_LIMIT) -> str:
    """``value`` as text for one log line: escaped, and cut after ``limit`` characters.

    Every character that is not printable (newlines, tabs, escape sequences,
    line and paragraph separators, ...) becomes its backslash escape, as
    ``repr`` writes it; a backslash stays as it is. Text longer than
    ``limit`` is cut, saying how much was left out; None never cuts (for
    text whose writer already bounds it).
    """
    text = value if isinstance(value, str) else str(value)
    cut = 0 if limit is None else len(text) - limit
    if cut > 0:
        text = text[:limit]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return f"{text}...(+{cut} chars)" if cut > 0 else text
