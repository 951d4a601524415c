from edgeapp.cli.main import main

# Guarded: the engine's spawned process imports the parent's __main__ module.
if __name__ == "__main__":
    raise SystemExit(main())
