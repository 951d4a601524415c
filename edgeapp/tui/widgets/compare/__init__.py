"""Widgets of the compare screen."""
