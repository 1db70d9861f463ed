"""The taskiq rows: spakky-taskiq against raw taskiq."""
