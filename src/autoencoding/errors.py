"""One error type for every bad input the library rejects.

`AutoencodingError` subclasses `ValueError` so scikit-learn style callers that catch
`ValueError` keep working; the CLI turns it into one line on stderr and exit code 2.
"""


class AutoencodingError(ValueError):
    """Bad input, bad config or an unusable file: the message says what and what was expected."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was kept."""
