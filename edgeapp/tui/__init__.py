"""The Textual app: `edgeapp` with no command (see launch.py and app.py)."""
