"""The one base class for problems a person can fix.

`grade` prints any GradeError as a short message and exits 2; anything else that escapes is a bug
of ours and keeps its traceback.
"""


class GradeError(Exception):
    """Bad input, a missing prerequisite, a refused object: what is wrong and what to do next."""
