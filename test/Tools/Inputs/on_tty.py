#!/usr/bin/env python3
"""Runs a command with its stdin on a pseudo-terminal, types TEXT into it
followed by Ctrl-D, and prints what the command wrote to stderr, then
`exit N`.

    on_tty.py TEXT COMMAND [ARG ...]
"""

import os
import pty
import subprocess
import sys
import time


def main() -> int:
    text, command = sys.argv[1], sys.argv[2:]
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdin=slave, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    os.close(slave)
    time.sleep(0.5)  # let it start and find its stdin a terminal
    os.write(master, text.encode() + b"\n\x04")
    _, err = proc.communicate(timeout=120)
    os.close(master)
    sys.stdout.write(err.decode())
    print(f"exit {proc.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
