"""``printable``: untrusted text made safe for one log line."""

from spakky.dispatch.core.logtext import LOG_FIELD_LIMIT, printable


def test_printable_plain_text_expect_unchanged() -> None:
    """Printable text (accents and other scripts included) passes as it is."""
    assert printable("shop.Orders.place é 한") == "shop.Orders.place é 한"


def test_printable_control_characters_expect_escaped() -> None:
    """Newlines, escapes and line separators become backslash escapes."""
    text = printable("id\nINJECTED\r\t\x1b[31m\u2028end")
    assert text == "id\\nINJECTED\\r\\t\\x1b[31m\\u2028end"
    assert text.isprintable()


def test_printable_long_text_expect_cut_and_counted() -> None:
    """Text over the limit is cut, saying how many characters were left out."""
    assert (
        printable("x" * (LOG_FIELD_LIMIT + 7))
        == "x" * LOG_FIELD_LIMIT + "...(+7 chars)"
    )
    assert printable("a\nbcd", limit=2) == "a\\n...(+3 chars)"


def test_printable_not_text_expect_its_str() -> None:
    """Other values are shown by ``str``, escaped like text."""
    assert printable(("a", 1)) == "('a', 1)"
    assert printable(b"\xff") == "b'\\xff'"


def test_printable_without_limit_expect_escaped_never_cut() -> None:
    """``limit=None`` escapes but keeps all of a long text."""
    text = printable("a\n" + "x" * (LOG_FIELD_LIMIT * 3), limit=None)
    assert text == "a\\n" + "x" * (LOG_FIELD_LIMIT * 3)
