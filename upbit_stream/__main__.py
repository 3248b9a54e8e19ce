"""``python -m upbit_stream``: the ``upbit-stream`` command line."""

import sys

from ._cli.main import main

sys.exit(main())
