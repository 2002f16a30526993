"""CLI commands that act on a running server through its admin API: fault, keys, clock,
journal, reset. Exit 0 on success; 2 on usage errors and refusals (4xx, the server's
error_description printed); 1 when the server cannot be reached, answers with something other
than JSON (not a mockauth server), or fails (5xx)."""

from __future__ import annotations

from typing import Any

import click

from mockauth.admin.client import AdminClient
from mockauth.admin.options import (
    Instant,
    Seconds,
    admin_command,
    json_output,
    merge_rules,
    read_rules,
    rule_options,
    usage_error,
)
from mockauth.admin.output import (
    journal_row,
    print_clock,
    print_json,
    print_keys,
    print_table,
    rule_columns,
    rule_summary,
)

# --- fault ---------------------------------------------------------------------------------


@click.group()
def fault() -> None:
    """Add, list, delete or clear fault rules on a running server."""


@fault.command("add")
@admin_command
@rule_options
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
    rules = merge_rules(read_rules(rule_json, rule_file), given)
    for rule in client.add_faults(rules):
        click.echo(f"added {rule['id']}: {rule_summary(rule)}")


@fault.command("list")
@admin_command
@json_output
def fault_list(client: AdminClient, as_json: bool) -> None:
    """List the fault rules with how often each matched (seen) and fired."""
    rules = client.faults()
    if as_json:
        print_json(rules)
    elif not rules:
        click.echo("no fault rules")
    else:
        header = ("ID", "WHERE", "MATCH", "EFFECT", "HOW OFTEN", "SEEN", "FIRED", "STATE")
        rows = [
            (r.get("id"), *rule_columns(r), r.get("seen"), r.get("fired"), r.get("state"))
            for r in rules
        ]
        print_table(header, rows)


@fault.command("delete")
@admin_command
@click.argument("rule_id", metavar="ID")
def fault_delete(client: AdminClient, rule_id: str) -> None:
    """Delete the fault rule ID."""
    rule = client.delete_fault(rule_id)
    click.echo(f"deleted {rule.get('id', rule_id)}: {rule_summary(rule)}")


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


@keys.command("list")
@admin_command
@json_output
def keys_list(client: AdminClient, as_json: bool) -> None:
    """The published keys (the JWKS) and which one signs."""
    state = client.keys()
    if as_json:
        print_json(state)
        return
    print_keys(state)
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
        print_json(state)
        return
    click.echo(f"new signing key {state.get('active')} (previous: {state.get('previous')})")
    print_keys(state)


@keys.command("retire")
@admin_command
@click.argument("kid", required=False)
@click.option("--all", "every", is_flag=True, help="Retire every key but the active one.")
@json_output
def keys_retire(client: AdminClient, kid: str | None, every: bool, as_json: bool) -> None:
    """Remove key KID (or, with --all, every non-active key) from the JWKS."""
    if (kid is None) == (not every):
        raise usage_error("give a KID or --all (not both)")
    state = client.retire_keys(kid)
    if as_json:
        print_json(state)
        return
    retired = state.get("retired") or []
    click.echo(f"retired {', '.join(retired)}" if retired else "no key to retire")
    print_keys(state)


# --- clock ---------------------------------------------------------------------------------


@click.group()
def clock() -> None:
    """Show, offset, advance or freeze the server's clock.

    The clock sets iat and exp of the tokens the server issues.
    """


@clock.command("show")
@admin_command
@json_output
def clock_show(client: AdminClient, as_json: bool) -> None:
    """The server's time, offset and freeze."""
    print_clock(client.clock(), as_json)


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
        raise usage_error("--at needs --freeze")
    chosen = [name for name, v in (("offset", offset), ("advance", advance)) if v is not None]
    if freeze:
        chosen.append("freeze")
    if len(chosen) != 1:
        raise usage_error("give exactly one of --offset, --advance, --freeze")
    if offset is not None:
        change: dict[str, Any] = {"offset": offset}
    elif advance is not None:
        change = {"advance": advance}
    else:
        change = {"freeze": True} if at is None else {"frozen_at": at}
    print_clock(client.set_clock(**change), as_json)


@clock.command("reset")
@admin_command
@json_output
def clock_reset(client: AdminClient, as_json: bool) -> None:
    """Back to real time."""
    print_clock(client.reset_clock(), as_json)


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
            raise usage_error(f"{', '.join(given) or '--json'} cannot be used with a subcommand")
        return
    entries = client.journal(**filters)
    if as_json:
        print_json(entries)
    elif not entries:
        click.echo("no journal entries")
    else:
        header = ("SEQ", "TIME", "METHOD", "PATH", "STATUS", "CLIENT", "GRANT", "FAULT", "MS")
        print_table(header, [journal_row(e) for e in entries])


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
