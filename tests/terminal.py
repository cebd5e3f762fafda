"""Run autopostr in a pseudo-terminal, as a person at a keyboard does.

The child gets the terminal as its controlling terminal and as stdin, stdout
and stderr, so `isatty()` is true, hidden prompts (getpass) turn echo off, and
everything it shows arrives here in order. Each answer is typed only once its
prompt is on the screen: typed ahead, it would be echoed before a hidden prompt
could turn echo off.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Screen:
    exit_code: int
    output: str  # stdout and stderr as the terminal showed them, \r\n made \n


def run_in_terminal(
    *args: str,
    answers: Sequence[tuple[str, str]] = (),
    hidden: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Screen:
    """`answers`: (text the prompt shows, what to type); each is typed with a newline.
    Answers to the prompts named in `hidden` wait until the terminal's echo is off: a
    hidden prompt flushes what was typed before it turned echo off."""
    import pty

    full_env = {**os.environ, "TERM": "dumb", **(env or {})}
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes autopostr, never returns
        try:
            os.execve(sys.executable, [sys.executable, "-m", "autopostr", *args], full_env)
        finally:
            os._exit(127)
    seen = b""  # what arrived since the last answer
    transcript: list[bytes] = []
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if pending and pending[0][0].encode() in seen and _ready(fd, pending[0][0], hidden):
                prompt, reply = pending.pop(0)
                # The next answer waits for a prompt shown after this one.
                seen = seen[seen.index(prompt.encode()) + len(prompt) :]
                os.write(fd, reply.encode() + b"\n")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"autopostr {' '.join(args)} did not finish in {timeout:g} s; "
                    f"waiting for {pending[0][0] if pending else 'its end'!r}; "
                    f"the screen shows: {_text(seen)!r}"
                )
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.2))
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal (it exited)
                break
            if not chunk:
                break
            seen += chunk
            transcript.append(chunk)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    output = _text(b"".join(transcript))
    if pending:
        raise AssertionError(f"never asked {pending[0][0]!r}; the screen showed: {output!r}")
    return Screen(os.waitstatus_to_exitcode(status), output)


def _ready(fd: int, prompt: str, hidden: Sequence[str]) -> bool:
    import termios

    return prompt not in hidden or not termios.tcgetattr(fd)[3] & termios.ECHO


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").replace("\r\n", "\n")
