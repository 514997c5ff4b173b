"""`python -m signer_tui` is the same as the `signer-tui` console script."""

from signer_tui.startup import main

raise SystemExit(main())
