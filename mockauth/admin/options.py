"""Input side of the admin commands: duration and time option types, the fault-rule options
and the reading of rules given as JSON, and ``admin_command``, which gives a command --url and
--admin-secret, an ``AdminClient``, and exits with the code and message a failure calls for."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from click.core import ParameterSource

from mockauth.admin.client import (
    AdminClient,
    AdminResponseError,
    AdminUnreachableError,
    NotMockAuthError,
)
from mockauth.cliparams import admin_secret_option, url_option
from mockauth.faults.badtokens import BAD_TOKENS
from mockauth.faults.rules import EFFECTS, ENDPOINTS

Command = Callable[..., None]
_SPAN_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_SPAN_RE = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+))\s*([smhd]?)\s*$")
if TYPE_CHECKING:  # click >= 8.2 makes ParamType generic; older ones cannot be subscripted
    _SecondsType = click.ParamType[float]
    _DelayType = click.ParamType[float | list[float]]
else:
    _SecondsType = _DelayType = click.ParamType


# --- option types --------------------------------------------------------------------------


class Seconds(_SecondsType):
    """Seconds as a number, or with a unit: 90, 1.5, 30s, 10m, 2h, 1d, -1h."""

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        found = _SPAN_RE.match(str(value))
        if not found:
            self.fail(f"{value!r} is not a duration (seconds, or a number with s, m, h or d)")
        return float(found[1]) * _SPAN_UNITS[found[2] or "s"]


class Instant(_SecondsType):
    """A point in time: epoch seconds, or ISO 8601 (no zone means UTC)."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        with contextlib.suppress(ValueError):
            seconds = float(value)
            if not math.isfinite(seconds):
                self.fail(f"{value!r} is not a finite number of seconds")
            return seconds
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is neither epoch seconds nor an ISO 8601 date-time")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()


class Delay(_DelayType):
    """Latency in seconds: one number, or a range LOW,HIGH."""

    name = "seconds[,high]"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float | list[float]:
        if isinstance(value, int | float | list):
            return value
        try:
            numbers = [float(part) for part in str(value).split(",")]
        except ValueError:
            self.fail(f"{value!r} is not seconds or LOW,HIGH")
        if len(numbers) > 2:
            self.fail(f"{value!r}: a range is LOW,HIGH")
        return numbers[0] if len(numbers) == 1 else numbers


# --- shared plumbing -----------------------------------------------------------------------


def _url_and_secret(func: Command) -> Command:
    return url_option(admin_secret_option(func))  # type: ignore[no-any-return]


def admin_command(func: Command) -> Command:
    """Add --url and --admin-secret; call ``func(client, ...)``; turn failures into exits."""

    @functools.wraps(func)
    def run(*args: Any, url: str, admin_secret: str | None, **kwargs: Any) -> None:
        client = _client(click.get_current_context(), url, admin_secret)
        with answers(client):
            func(client, *args, **kwargs)

    run.__click_params__ = list(getattr(func, "__click_params__", []))  # type: ignore[attr-defined]
    return _url_and_secret(run)


def _client(ctx: click.Context, url: str, secret: str | None) -> AdminClient:
    # `mockauth journal --url X clear`: a subcommand inherits what its group was given.
    parent = ctx.parent.meta.get("mockauth.admin") if ctx.parent is not None else None
    if isinstance(parent, AdminClient):
        inherit = (None, ParameterSource.DEFAULT, ParameterSource.ENVIRONMENT)
        if ctx.get_parameter_source("url") in inherit:
            url = parent.url
        if ctx.get_parameter_source("admin_secret") in inherit:
            secret = parent.secret
    try:
        client = AdminClient(url, secret=secret)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--url'") from None
    ctx.meta["mockauth.admin"] = client
    return client


@contextlib.contextmanager
def answers(client: AdminClient) -> Iterator[None]:
    try:
        yield
    except NotMockAuthError as exc:  # something answered: "is it running?" would mislead
        _exit(1, str(exc))
    except AdminUnreachableError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in exc.reason:  # it runs, over HTTPS (serve --tls)
            _exit(1, f"{exc} (trust its CA: SSL_CERT_FILE=<its keys dir>/tls/bundle.pem)")
        _exit(1, f"{exc} (is `mockauth serve` running there? set --url or MOCKAUTH_URL)")
    except AdminResponseError as exc:
        message = str(exc)
        # Keyed on what we sent, not on the server's wording: without a secret the fix is
        # to give one; with one, that it is the wrong one.
        if exc.status == 401 and not client.secret:
            message += " (give it with --admin-secret or MOCKAUTH_ADMIN_SECRET)"
        elif exc.status == 401:
            message += " (the secret given is wrong: check --admin-secret or MOCKAUTH_ADMIN_SECRET)"
        _exit(2 if 400 <= exc.status < 500 else 1, message)


def _exit(code: int, message: str) -> NoReturn:
    click.echo(f"mockauth: {message}", err=True)
    sys.exit(code)


def usage_error(message: str) -> click.UsageError:
    return click.UsageError(message, click.get_current_context())


json_output = click.option(
    "--json", "as_json", is_flag=True, help="Print the answer as JSON instead of text."
)


# --- fault rules ---------------------------------------------------------------------------


# (option name, rule key, click type, help); all optional, None means "not given".
_RULE_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--id", "id", str, "Rule id (default: generated)."),
    ("--endpoint", "endpoint", click.Choice(list(ENDPOINTS)), "Where the rule applies."),
    ("--path", "path", str, "An exact path instead of --endpoint."),
    ("--client-id", "client_id", str, "Only token requests from this client."),
    ("--audience", "audience", str, "Only token requests for this audience."),
    ("--grant-type", "grant_type", str, "Only token requests with this grant type."),
    ("--effect", "effect", click.Choice(list(EFFECTS)), "What happens."),
    ("--delay", "delay", Delay(), "latency: seconds, or a range LOW,HIGH."),
    ("--status", "status", int, "error, html_error: the HTTP status."),
    ("--error", "error", str, "error: the OAuth error code, e.g. invalid_client."),
    ("--description", "description", str, "error, throttle: the error_description."),
    ("--retry-after", "retry_after", int, "throttle: seconds in Retry-After."),
    ("--timeout", "timeout", float, "hang: seconds before the connection is closed."),
    ("--token", "token", click.Choice(sorted(BAD_TOKENS)), "bad_token: which bad token."),
    ("--times", "times", int, "Fire on the next N matching requests only."),
    ("--every", "every", int, "Fire on every Nth matching request."),
    ("--probability", "probability", float, "Fire with this probability (0 < p <= 1)."),
    ("--seed", "seed", int, "Seed of the random draws, to replay a run."),
    ("--expires-in", "expires_in", Seconds(), "Stop firing this long after being added."),
]


def rule_options(func: Command) -> Command:
    for flag, key, kind, text in reversed(_RULE_OPTIONS):
        func = click.option(flag, key, type=kind, help=text)(func)
    return func


def read_rules(rule_json: str | None, rule_file: str | None) -> object:
    if rule_json is not None and rule_file is not None:
        raise usage_error("give --json or --file, not both")
    if rule_file is not None:
        try:
            if rule_file == "-":
                rule_json = sys.stdin.read()
            else:
                rule_json = Path(rule_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise usage_error(f"--file {rule_file}: cannot read it: {exc}") from None
    if rule_json is None:
        return None
    try:
        return json.loads(rule_json)
    except ValueError as exc:
        where = f"--file {rule_file}" if rule_file is not None else "--json"
        raise usage_error(f"{where}: not valid JSON: {exc}") from None


def merge_rules(document: object, given: dict[str, Any]) -> object:
    if document is None:
        if not given:
            raise usage_error("describe the rule: at least --effect, or --json / --file")
        return given
    if not given:
        return document
    if not isinstance(document, dict):
        raise usage_error("rule options can only be merged into a single JSON rule object")
    return {**document, **given}
