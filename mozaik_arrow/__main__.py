"""``python -m mozaik_arrow`` is the ``mozaik-arrow`` command."""

import sys

from .cli import main

sys.exit(main())
