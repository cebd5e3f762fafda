"""autopostr: social-media scheduling for people who live in a terminal.

This module stays import-free so that `autopostr --version` starts fast.
"""

__version__ = "0.1.0"
