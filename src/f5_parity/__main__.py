import sys

from f5_parity.cli import main

sys.exit(main())
