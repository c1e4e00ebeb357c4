"""One error tree for everything isolation-fuzz itself gets wrong or cannot do.

Findings (isolation violations) are *not* errors: they are records in
:mod:`isolation_fuzz.model`.  Everything here is a tool failure, and each class
carries the exit code the CLI ends with, as click does, so that the command line
never has to guess.

Classes mix in the builtin they refine (``UsageError`` is a ``ValueError``) so a
caller can catch either, as Hypothesis does with ``InvalidArgument``.
"""

from __future__ import annotations

import os
import sysconfig
import traceback

__all__ = [
    "AuthError",
    "ContextStateError",
    "InfrastructureError",
    "InvariantCrashed",
    "IsolationFuzzError",
    "MissingDependency",
    "Refused",
    "ServiceUnavailable",
    "TargetFailed",
    "TargetStalled",
    "UsageError",
    "innermost_error",
    "is_infrastructure_failure",
]


class IsolationFuzzError(Exception):
    """Base of every error raised by isolation-fuzz (not of findings)."""

    exit_code: int = 3


class UsageError(IsolationFuzzError, ValueError):
    """Bad input: a flag, a file or an argument that cannot be used as given."""

    exit_code = 2


class InfrastructureError(IsolationFuzzError, RuntimeError):
    """Something the campaign needs (a service, a port, a directory) is not usable."""

    exit_code = 3


class ServiceUnavailable(InfrastructureError, ConnectionError):
    """A Redis, Postgres or ClickHouse service could not be reached or started."""

    def __init__(self, service: str, where: str, reason: str) -> None:
        self.service = service
        self.where = where
        self.reason = reason
        super().__init__(
            f"{service} at {where!r} is not usable: {reason}. "
            f"Check that the server is running and the URL is right, or unset the URL "
            f"to use the embedded {service} engine."
        )


class TargetStalled(InfrastructureError, TimeoutError):
    """The target made no progress although every service answered and nothing held it.

    Not a finding: a run that hangs with no other run paused waits on nothing the
    interleaving did (issue 10).  The message says which run or call, and how long.
    """


class MissingDependency(InfrastructureError, ImportError):
    """An optional dependency (an embedded engine) is not installed."""

    def __init__(self, module: str, extra: str = "embedded") -> None:
        self.module = module
        super().__init__(
            f"The optional module {module!r} is not installed. "
            f"Install it with: pip install 'isolation-fuzz[{extra}]'"
        )


class InvariantCrashed(IsolationFuzzError, RuntimeError):
    """An invariant raised instead of answering: whether isolation held is unknown.

    Never a finding: a crashing check must not pass for a violation (Jepsen's
    ``check-safe``).  Exit code 2, as for bad input: the check is the user's code.
    """

    exit_code = 2

    def __init__(self, crashes: list[tuple[str, int, str]]) -> None:
        #: (invariant, step, error) for each invariant that crashed.
        self.crashes = crashes
        said = "; ".join(f"{name!r} at step {step} ({error})" for name, step, error in crashes)
        names = ", ".join(repr(name) for name, _, _ in crashes)
        super().__init__(
            f"invariant(s) crashed while checking the history: {said}. Whether they held "
            f"is unknown, so nothing was reported as a violation. Fix the invariant, or "
            f"stop checking it with isolation_fuzz.unregister_invariant"
            f"({names.split(', ')[0]})."
        )


class ContextStateError(IsolationFuzzError, RuntimeError):
    """A user data context was used before ``initialize()`` or after ``cleanup()``."""

    exit_code = 3


class AuthError(IsolationFuzzError):
    """A token was rejected.  ``reason`` says why, without ever repeating the token.

    Not a ``PermissionError`` (an ``OSError``): a refusal is the target's answer, and
    an ``OSError`` from a run is taken for a dead socket (issue 20).
    """

    exit_code = 2
    #: What the message says before the reason.
    _says = "token rejected"

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{self._says}: {reason}")


class Refused(AuthError):
    """The target refuses a valid identity a resource (a thread) that is not its own.

    Correct isolation, not a failure: a run of a valid identity that raises it (or
    any :class:`AuthError`) is counted ``refused``, never failed, never
    infrastructure.  Raise it from a target's ``run`` for "not yours"::

        if owner_of(thread_id) not in (None, user):
            raise Refused(f"thread {thread_id!r} belongs to another user")
    """

    _says = "refused"


class TargetFailed(IsolationFuzzError, RuntimeError):
    """The user's own code (their factory, its start-up or shut-down) raised.

    Theirs, not the tool's, and not a finding: the message names their exception and
    the frame of their code that raised it (an ``ExceptionGroup`` unwrapped to what
    raised), so they can go there; the original is kept as ``__cause__``.
    """

    exit_code = 3

    def __init__(self, target: str, when: str, error: BaseException) -> None:
        leaf = innermost_error(error)
        self.error = leaf
        where = _their_frame(leaf)
        super().__init__(
            f"the target {target} failed {when}: {type(leaf).__name__}: {leaf}"
            + (f" (at {where})" if where else "")
        )


def innermost_error(error: BaseException) -> BaseException:
    """``error``, or the first exception an ``ExceptionGroup`` (nested or not) holds."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


#: Where the tool's own frames live: never "their frame".
_OWN_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_LIBRARIES = tuple({sysconfig.get_path("stdlib") + os.sep, sysconfig.get_path("purelib") + os.sep,
                    sysconfig.get_path("platlib") + os.sep})


def _their_frame(error: BaseException) -> str | None:
    """``file:line, in function`` of the innermost frame of the user's code that raised."""
    found = None
    for frame, line in traceback.walk_tb(error.__traceback__):
        filename = os.path.abspath(frame.f_code.co_filename)
        if filename.startswith(_OWN_DIR) or filename.startswith(_LIBRARIES):
            continue
        found = f"{filename}:{line}, in {frame.f_code.co_name}"
    return found


def is_infrastructure_failure(error: BaseException | None) -> bool:
    """Whether an error a run raised is the infrastructure's (a socket, a service).

    A refusal is the target's answer, never infrastructure: :class:`AuthError` was a
    ``PermissionError`` and so an ``OSError``, and a system correctly refusing a
    valid user on someone else's thread used to end the campaign with exit 3.
    """
    return isinstance(error, InfrastructureError | OSError)
