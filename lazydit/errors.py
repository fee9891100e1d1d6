"""The one error type the command line turns into a one-line message (no traceback)."""


class UserError(Exception):
    """A problem with the user's input: the message names the problem and the fix."""
