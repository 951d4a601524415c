"""Widgets that render Markdown, including Markdown that is still streaming in."""
