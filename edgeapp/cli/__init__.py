"""The headless command line: parses arguments, calls the core, prints text or JSON."""
