"""The README's example: the seed's handlers and bootstrap, run on a real worker."""
