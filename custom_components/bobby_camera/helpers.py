"""Turn command errors into translated Home Assistant errors, in one place."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError

from .commands import (
    CommandError,
    CommandNotAppliedError,
    CommandRejectedError,
    CommandTimeoutError,
    CommandToAllError,
    NotControllableError,
)
from .const import DOMAIN


def translate_command_error(error: CommandError, timeout: float) -> HomeAssistantError:
    """The translated error for a failed command."""
    placeholders = {"name": error.agent.name, "detail": error.detail, "timeout": f"{timeout:g}"}
    if isinstance(error, NotControllableError):
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_controllable",
            translation_placeholders=placeholders,
        )
    key = "command_rejected" if isinstance(error, CommandRejectedError) else "command_timeout"
    if isinstance(error, CommandNotAppliedError):
        key = "command_not_applied"
    elif not isinstance(error, CommandRejectedError | CommandTimeoutError):
        key = "command_failed"
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


type _Command[**P] = Callable[P, Coroutine[Any, Any, None]]


def bobby_command[**P](timeout: Callable[..., float]) -> Callable[[_Command[P]], _Command[P]]:
    """Decorate a coroutine that sends commands: failures become translated errors.

    `timeout` reads the command timeout from the call's first argument (for the message).
    """

    def decorator(func: _Command[P]) -> _Command[P]:
        @wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                await func(*args, **kwargs)
            except CommandError as error:
                raise translate_command_error(error, timeout(*args)) from error
            except CommandToAllError as error:
                raise HomeAssistantError(
                    translation_domain=DOMAIN,
                    translation_key="command_all_failed",
                    translation_placeholders={
                        "failed": str(len(error.failed)),
                        "total": str(error.total),
                        "names": error.names,
                        "timeout": f"{timeout(*args):g}",
                    },
                ) from error

        return wrapper

    return decorator
