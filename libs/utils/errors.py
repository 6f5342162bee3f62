"""The one base class of every error that is the user's input, not a bug of ours.

Scripts print such an error as one line (``<script>: error: <message>``, exit status 2);
anything else keeps its traceback. Each layer subclasses :class:`UserError` for its own
errors (``DatasetError``, ``CheckpointError``, ...) and keeps the built-in base it always
had (``ValueError`` or ``OSError``) so that existing ``except`` clauses still catch it.
This module is a leaf: it imports nothing of the project.
"""

__all__ = ["UserError", "UsageError"]


class UserError(Exception):
    """Bad input (a flag, a file, a folder): the message names it and says what was expected."""


class UsageError(UserError, ValueError):
    """A flag value or combination of flags that cannot work."""
