"""Widgets, in a folder per screen (chat, compare) or kind (stats)."""
