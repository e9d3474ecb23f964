from fakerek.app.cli import main

raise SystemExit(main())
