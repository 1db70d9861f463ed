"""The cost rows: what one adapter adds inside the core, with against without."""
