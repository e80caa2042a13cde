"""Test helper: write an increasing counter to a pipe, one line about every 2 ms.

usage: pipe_counter.py [FD]   (FD defaults to 3, e.g. passed with Job.spawn(..., fds={3: write_end}))
Exits quietly when the reader goes away.
"""

import os
import sys
import time

fd = int(sys.argv[1]) if len(sys.argv) > 1 else 3
n = 0
while True:
    n += 1
    try:
        os.write(fd, b"%d\n" % n)
    except BrokenPipeError:
        sys.exit(0)
    time.sleep(0.002)
