"""A module that fails while it is imported (a typo in a dependency's name)."""

import spakky_no_such_dependency_xyz  # type: ignore[import-not-found]  # noqa: F401

app = None
