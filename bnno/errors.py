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


# The exit status of a run stopped by SIGTERM or SIGINT after saving its position:
# EX_TEMPFAIL of sysexits.h, "a temporary failure; the user is invited to retry", which
# batch schedulers can be told to requeue on (e.g. Slurm's RequeueExit=75).
EXIT_REQUEUE = 75


class Preempted(Exception):
    """A run stopped by a signal after checkpointing its exact position: the same command
    resumes it. The CLI prints the message as one line and exits with ``EXIT_REQUEUE``.

    Example:
        >>> raise Preempted("SIGTERM: stopped after step 17 of epoch 3")
        Traceback (most recent call last):
        ...
        bnno.errors.Preempted: SIGTERM: stopped after step 17 of epoch 3
        >>> Preempted.exit_code
        75
    """

    exit_code = EXIT_REQUEUE
