"""`python -m kerasi2i` runs the command line interface."""
import sys

from kerasi2i.cli import main

if __name__ == "__main__":  # not when a spawned worker process imports this module
    sys.exit(main())
