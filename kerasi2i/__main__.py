"""`python -m kerasi2i` runs the command line interface."""
import sys

from kerasi2i.cli import main

sys.exit(main())
