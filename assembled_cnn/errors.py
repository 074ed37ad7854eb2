"""The one base of every user error: a wrong flag, file or setting, not a bug.

Command lines catch `UserError` and print its message as one line (`error: ...`, exit status
2) instead of a traceback; the message names the flag, file or variable and what to do.
`--debug` (main_classification.py) shows the traceback anyway.
"""


class UserError(ValueError):
    """A user's mistake; the message says which flag/file and how to fix it."""
