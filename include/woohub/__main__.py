"""``python -m woohub`` (see :mod:`woohub.cli`)."""

import sys

from woohub.cli import main

sys.exit(main())
