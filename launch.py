"""Start LCM Writer: `python launch.py [--host] [--port] [--db] [--codec] [--lcm] [--device]`."""

import sys

from app.serve import main

if __name__ == "__main__":
    sys.exit(main())
