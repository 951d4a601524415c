from edgeapp.cli.main import main

raise SystemExit(main())
