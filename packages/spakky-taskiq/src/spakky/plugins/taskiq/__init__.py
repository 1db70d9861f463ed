"""spakky-taskiq: the taskiq plugin for the Spakky Framework."""
