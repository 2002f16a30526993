"""CLI commands that act on a running server through its admin API: fault, keys, clock,
journal, reset. Exit 0 on success; 2 on usage errors and refusals (4xx, the server's
error_description printed); 1 when the server cannot be reached, answers with something other
than JSON (not a mockauth server), or fails (5xx)."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from click.core import ParameterSource

from mockauth.adminclient import (
    DEFAULT_URL,
    AdminClient,
    AdminResponseError,
    AdminUnreachableError,
    NotMockAuthError,
)
from mockauth.badtokens import BAD_TOKENS
from mockauth.faults import EFFECTS, ENDPOINTS, FORM_MATCHERS, FREQUENCY_KEYS

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
    func = click.option(
        "--admin-secret",
        envvar="MOCKAUTH_ADMIN_SECRET",
        help="Bearer secret of the admin API (needed when the server listens beyond "
        "loopback, or was started with one). [env: MOCKAUTH_ADMIN_SECRET]",
    )(func)
    return click.option(
        "--url",
        envvar="MOCKAUTH_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="Base URL of the running mockauth server. [env: MOCKAUTH_URL]",
    )(func)


def admin_command(func: Command) -> Command:
    """Add --url and --admin-secret; call ``func(client, ...)``; turn failures into exits."""

    @functools.wraps(func)
    def run(*args: Any, url: str, admin_secret: str | None, **kwargs: Any) -> None:
        client = _client(click.get_current_context(), url, admin_secret)
        with _answers(client):
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
def _answers(client: AdminClient) -> Iterator[None]:
    try:
        yield
    except NotMockAuthError as exc:  # something answered: "is it running?" would mislead
        _exit(1, str(exc))
    except AdminUnreachableError as exc:
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


def _usage(message: str) -> click.UsageError:
    return click.UsageError(message, click.get_current_context())


json_output = click.option(
    "--json", "as_json", is_flag=True, help="Print the answer as JSON instead of text."
)


def _print_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [list(header)] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _cell(value: object) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _stamp(epoch: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))
    except (OverflowError, ValueError, OSError):
        return f"{epoch!r}"


def _span(seconds: float) -> str:
    """A signed, rounded duration: +1h 30m, -45s, +2d 3h."""
    if not math.isfinite(seconds):
        return str(seconds)
    sign = "-" if seconds < 0 else "+"
    rest = round(abs(seconds))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + (" ".join(parts[:2]) or "0s")


# --- fault ---------------------------------------------------------------------------------


@click.group()
def fault() -> None:
    """Add, list, delete or clear fault rules on a running server."""


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


def _rule_options(func: Command) -> Command:
    for flag, key, kind, text in reversed(_RULE_OPTIONS):
        func = click.option(flag, key, type=kind, help=text)(func)
    return func


@fault.command("add")
@admin_command
@_rule_options
@click.option("--json", "rule_json", metavar="JSON", help="A rule object, or an array of rules.")
@click.option(
    "--file",
    "rule_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="A JSON file holding a rule or an array of rules ('-': stdin).",
)
def fault_add(
    client: AdminClient, rule_json: str | None, rule_file: str | None, **fields: Any
) -> None:
    """Add a fault rule (or several): from options, from --json/--file, or both.

    Options are merged into the JSON rule and win over its keys. The server checks the
    rule; a bad one is refused with the field named, and nothing is added.

    \b
    mockauth fault add --endpoint token --effect throttle --retry-after 5 --times 2
    mockauth fault add --json '{"endpoint": "jwks", "effect": "error", "status": 500}'
    """
    given = {key: value for key, value in fields.items() if value is not None}
    rules = _merge(_read_rules(rule_json, rule_file), given)
    for rule in client.add_faults(rules):
        click.echo(f"added {rule['id']}: {_summary(rule)}")


def _read_rules(rule_json: str | None, rule_file: str | None) -> object:
    if rule_json is not None and rule_file is not None:
        raise _usage("give --json or --file, not both")
    if rule_file is not None:
        try:
            if rule_file == "-":
                rule_json = sys.stdin.read()
            else:
                rule_json = Path(rule_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _usage(f"--file {rule_file}: cannot read it: {exc}") from None
    if rule_json is None:
        return None
    try:
        return json.loads(rule_json)
    except ValueError as exc:
        where = f"--file {rule_file}" if rule_file is not None else "--json"
        raise _usage(f"{where}: not valid JSON: {exc}") from None


def _merge(document: object, given: dict[str, Any]) -> object:
    if document is None:
        if not given:
            raise _usage("describe the rule: at least --effect, or --json / --file")
        return given
    if not given:
        return document
    if not isinstance(document, dict):
        raise _usage("rule options can only be merged into a single JSON rule object")
    return {**document, **given}


def _summary(rule: Mapping[str, Any]) -> str:
    where, match, effect, how = _rule_columns(rule)
    return " ".join(p for p in (where, effect, match, how) if p)


def _rule_columns(rule: Mapping[str, Any]) -> tuple[str, str, str, str]:
    where = rule.get("path") or rule.get("endpoint") or "any"
    match = " ".join(f"{k}={rule[k]}" for k in FORM_MATCHERS if k in rule)
    params = EFFECTS.get(rule.get("effect", ""), frozenset())
    effect = " ".join(
        [str(rule.get("effect"))] + [f"{k}={_cell(rule[k])}" for k in sorted(params) if k in rule]
    )
    how = " ".join(f"{k}={rule[k]}" for k in sorted(FREQUENCY_KEYS) if k in rule)
    return where, match, effect, how


@fault.command("list")
@admin_command
@json_output
def fault_list(client: AdminClient, as_json: bool) -> None:
    """List the fault rules with how often each matched (seen) and fired."""
    rules = client.faults()
    if as_json:
        _print_json(rules)
    elif not rules:
        click.echo("no fault rules")
    else:
        header = ("ID", "WHERE", "MATCH", "EFFECT", "HOW OFTEN", "SEEN", "FIRED", "STATE")
        rows = [
            (r.get("id"), *_rule_columns(r), r.get("seen"), r.get("fired"), r.get("state"))
            for r in rules
        ]
        _table(header, rows)


@fault.command("delete")
@admin_command
@click.argument("rule_id", metavar="ID")
def fault_delete(client: AdminClient, rule_id: str) -> None:
    """Delete the fault rule ID."""
    rule = client.delete_fault(rule_id)
    click.echo(f"deleted {rule.get('id', rule_id)}: {_summary(rule)}")


@fault.command("clear")
@admin_command
def fault_clear(client: AdminClient) -> None:
    """Delete every fault rule (including those from the config file, until `reset`)."""
    count = client.clear_faults()
    click.echo(f"deleted {count} fault rule{'s' if count != 1 else ''}")


# --- keys ----------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """List, rotate or retire a running server's signing keys."""


def _print_keys(state: Mapping[str, Any]) -> None:
    retire_at: Mapping[str, float] = state.get("retire_at") or {}
    now = time.time()
    rows = []
    for kid in state.get("published", []):
        due = retire_at.get(kid)
        when = None
        if due is not None:
            left = _span(due - now)
            when = f"{_stamp(due)} ({'in ' + left[1:] if left[0] == '+' else left[1:] + ' ago'})"
        rows.append((kid, "active" if kid == state.get("active") else "published", when))
    _table(("KID", "STATE", "RETIRES"), rows)


@keys.command("list")
@admin_command
@json_output
def keys_list(client: AdminClient, as_json: bool) -> None:
    """The published keys (the JWKS) and which one signs."""
    state = client.keys()
    if as_json:
        _print_json(state)
        return
    _print_keys(state)
    overlap = state.get("overlap")
    click.echo(f"rotation overlap: {'none' if overlap is None else f'{overlap:g} s'}")


@keys.command("rotate")
@admin_command
@click.option(
    "--overlap",
    type=Seconds(),
    help="Retire the previous keys this long after rotating (default: the config's "
    "[keys] overlap; none: they stay published until retired).",
)
@json_output
def keys_rotate(client: AdminClient, overlap: float | None, as_json: bool) -> None:
    """Make a new key the signer; the previous ones stay in the JWKS until retired."""
    state = client.rotate_keys(overlap=overlap)
    if as_json:
        _print_json(state)
        return
    click.echo(f"new signing key {state.get('active')} (previous: {state.get('previous')})")
    _print_keys(state)


@keys.command("retire")
@admin_command
@click.argument("kid", required=False)
@click.option("--all", "every", is_flag=True, help="Retire every key but the active one.")
@json_output
def keys_retire(client: AdminClient, kid: str | None, every: bool, as_json: bool) -> None:
    """Remove key KID (or, with --all, every non-active key) from the JWKS."""
    if (kid is None) == (not every):
        raise _usage("give a KID or --all (not both)")
    state = client.retire_keys(kid)
    if as_json:
        _print_json(state)
        return
    retired = state.get("retired") or []
    click.echo(f"retired {', '.join(retired)}" if retired else "no key to retire")
    _print_keys(state)


# --- clock ---------------------------------------------------------------------------------


@click.group()
def clock() -> None:
    """Show, offset, advance or freeze the server's clock.

    The clock sets iat and exp of the tokens the server issues.
    """


def _print_clock(state: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(state)
        return
    offset = float(state.get("offset") or 0.0)
    frozen = state.get("frozen_at")
    click.echo(f"now:    {_stamp(state['now'])} ({state['now']})")
    if frozen is not None:
        click.echo(f"frozen: yes, at {_stamp(frozen)}")
    elif offset:
        click.echo(f"offset: {_span(offset)} ({offset:g} s from real time)")
    else:
        click.echo("offset: none (real time)")


@clock.command("show")
@admin_command
@json_output
def clock_show(client: AdminClient, as_json: bool) -> None:
    """The server's time, offset and freeze."""
    _print_clock(client.clock(), as_json)


@clock.command("set")
@admin_command
@click.option("--offset", type=Seconds(), help="Run this far from real time (e.g. -1h, 90).")
@click.option("--advance", type=Seconds(), help="Move the clock (frozen or not) by this much.")
@click.option("--freeze", is_flag=True, help="Stop the clock now (or at --at).")
@click.option("--at", "at", type=Instant(), help="With --freeze: epoch seconds or ISO 8601.")
@json_output
def clock_set(
    client: AdminClient,
    offset: float | None,
    advance: float | None,
    freeze: bool,
    at: float | None,
    as_json: bool,
) -> None:
    """Change the clock: exactly one of --offset, --advance, --freeze [--at T]."""
    if at is not None and not freeze:  # first: `--at T` alone is a freeze missing its flag
        raise _usage("--at needs --freeze")
    chosen = [name for name, v in (("offset", offset), ("advance", advance)) if v is not None]
    if freeze:
        chosen.append("freeze")
    if len(chosen) != 1:
        raise _usage("give exactly one of --offset, --advance, --freeze")
    if offset is not None:
        change: dict[str, Any] = {"offset": offset}
    elif advance is not None:
        change = {"advance": advance}
    else:
        change = {"freeze": True} if at is None else {"frozen_at": at}
    _print_clock(client.set_clock(**change), as_json)


@clock.command("reset")
@admin_command
@json_output
def clock_reset(client: AdminClient, as_json: bool) -> None:
    """Back to real time."""
    _print_clock(client.reset_clock(), as_json)


# --- journal -------------------------------------------------------------------------------


@click.group(invoke_without_command=True)
@admin_command
@click.option("--path", help="Only requests to this path.")
@click.option("--client-id", help="Only requests from this client.")
@click.option("--status", type=click.IntRange(0), help="Only answers with this status.")
@click.option("--fault", help="Only requests where this fault rule fired.")
@click.option("--since", type=click.IntRange(0), help="Only entries after sequence number N.")
@click.option("--limit", type=click.IntRange(0), help="At most N entries (the latest).")
@json_output
def journal(client: AdminClient, as_json: bool, **filters: Any) -> None:
    """Show (or clear) the server's request journal.

    Every non-admin request, oldest first, with secrets redacted. `journal clear` empties it.
    """
    ctx = click.get_current_context()
    if ctx.invoked_subcommand is not None:
        given = [f"--{k.replace('_', '-')}" for k, v in filters.items() if v is not None]
        if given or as_json:
            raise _usage(f"{', '.join(given) or '--json'} cannot be used with a subcommand")
        return
    entries = client.journal(**filters)
    if as_json:
        _print_json(entries)
    elif not entries:
        click.echo("no journal entries")
    else:
        header = ("SEQ", "TIME", "METHOD", "PATH", "STATUS", "CLIENT", "GRANT", "FAULT", "MS")
        _table(header, [_journal_row(e) for e in entries])


def _journal_row(entry: Mapping[str, Any]) -> tuple[object, ...]:
    moment = entry.get("time")
    stamp = time.strftime("%H:%M:%S", time.gmtime(moment)) if moment is not None else None
    status = entry.get("status")
    return (
        entry.get("seq"),
        stamp,
        entry.get("method"),
        entry.get("path"),
        "closed" if status is None else status,
        entry.get("client_id"),
        entry.get("grant_type"),
        entry.get("fault"),
        f"{entry.get('duration_ms', 0):.1f}",
    )


@journal.command("clear")
@admin_command
def journal_clear(client: AdminClient) -> None:
    """Forget every journal entry."""
    count = client.clear_journal()
    click.echo(f"deleted {count} journal entr{'ies' if count != 1 else 'y'}")


# --- reset ---------------------------------------------------------------------------------


@click.command("reset")
@admin_command
def reset(client: AdminClient) -> None:
    """Put the server back to its start-up state.

    Config apps, APIs and fault rules; real time; an empty journal. Keys are not touched.
    """
    client.reset()
    click.echo("reset: apps, APIs, fault rules, clock and journal are back to start-up state")


COMMANDS: tuple[click.Command, ...] = (fault, keys, clock, journal, reset)
