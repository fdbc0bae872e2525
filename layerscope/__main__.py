"""``python -m layerscope``."""

from layerscope.cli.entry import main

raise SystemExit(main())
