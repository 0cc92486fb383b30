"""`python -m teachtls`: the same as the `teachtls` command."""

from teachtls.cli import main

raise SystemExit(main())
