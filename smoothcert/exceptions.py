"""Warnings raised by smoothcert."""

__all__ = ["SoundnessWarning"]


class SoundnessWarning(UserWarning):
    """A certificate is not sound as computed (e.g. data-dependent sigma without a memory).

    Examples
    --------
    >>> import warnings
    >>> from smoothcert.exceptions import SoundnessWarning
    >>> issubclass(SoundnessWarning, UserWarning)
    True
    """
