from kubeling.cli import main

raise SystemExit(main())
