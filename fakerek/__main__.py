from fakerek.cli import main

raise SystemExit(main())
