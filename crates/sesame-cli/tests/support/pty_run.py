"""Runs a command on a pseudo-terminal (stdin, stdout and stderr), answering prompts.

    python3 pty_run.py '[["expected text", "answer"], ...]' CMD ARGS...

Waits for each expected text in the output (30 s at most), then types the answer and Enter.
Prints one JSON object: {"code": exit code, "output": everything the terminal showed}.
"""

import json
import os
import pty
import select
import sys
import time


def main() -> None:
    script = json.loads(sys.argv[1])
    cmd = sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b""

    def read(deadline: float) -> bool:
        nonlocal seen
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                seen += data
                return True
        return True

    pos = 0
    for expect, answer in script:
        deadline = time.time() + 30
        while expect.encode() not in seen[pos:] and time.time() < deadline:
            if not read(deadline):
                break
        at = seen.find(expect.encode(), pos)
        if at < 0:
            break
        pos = at + len(expect)
        os.write(fd, answer.encode() + b"\r")
    deadline = time.time() + 60
    while read(deadline) and time.time() < deadline:
        pass
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status), "output": seen.decode(errors="replace")}))


if __name__ == "__main__":
    main()
