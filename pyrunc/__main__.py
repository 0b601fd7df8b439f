"""`python -m pyrunc` runs the same entry as the pyrunc command."""
import sys

from pyrunc.entry import main

sys.exit(main())
