"""The one error type for bad user input."""


class BnnoError(Exception):
    """Bad input from the user: the CLI prints the message as one line and exits with 2.

    The message should say what was wrong and what the valid choices are.

    Example:
        >>> raise BnnoError("unknown model 'foo'; choose one of: binarynet")
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: unknown model 'foo'; choose one of: binarynet
    """


def choices(names) -> str:
    """Format valid names for an error message.

    Example:
        >>> choices(["mnist", "cifar10"])
        'cifar10, mnist'
    """
    return ", ".join(sorted(names))
