"""Widgets that show engine statistics."""
