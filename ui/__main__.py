"""`python -m ui [--host H] [--port N] [--auth USER:PASS] [--index DIR]`: same as `rag serve`."""

import sys

from rag.cli import main

sys.exit(main(["serve", *sys.argv[1:]]))
