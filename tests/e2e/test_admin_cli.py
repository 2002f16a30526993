"""The admin commands (fault, keys, clock, journal, reset) against a running server: through
click's CliRunner against a ServerThread, and as real processes against `mockauth serve`."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from click.testing import CliRunner, Result

from mockauth import paths
from mockauth.admin.client import (
    AdminClient,
    AdminResponseError,
    AdminUnreachableError,
    NotMockAuthError,
)
from mockauth.cli import main
from mockauth.http.server import ServerThread
from mockauth.tenant.config import default_config
from mockauth.tokens.keys import KeyStore

APP = default_config().apps[0]
AUDIENCE = "https://api.example.com"
SECRET = "admin-" + "s3cret" * 5
WAIT = 30.0  # a bound on waits; nothing asserts on timing
ENV_NAMES = [
    "MOCKAUTH_URL",
    "MOCKAUTH_ADMIN_SECRET",
    "MOCKAUTH_CONFIG",
    "MOCKAUTH_KEYS_DIR",
    "MOCKAUTH_HOST",
    "MOCKAUTH_PORT",
    "MOCKAUTH_TLS",
]
ADMIN_COMMANDS = [
    ["fault", "add", "--effect", "close"],
    ["fault", "list"],
    ["fault", "delete", "x"],
    ["fault", "clear"],
    ["keys", "list"],
    ["keys", "rotate"],
    ["keys", "retire", "--all"],
    ["clock", "show"],
    ["clock", "set", "--offset", "60"],
    ["clock", "reset"],
    ["journal"],
    ["journal", "clear"],
    ["reset"],
]


def run(
    *args: str, url: str | None = None, env: dict[str, str] | None = None, stdin: str = ""
) -> Result:
    """`mockauth ARGS` with a clean environment; ``url`` is given as MOCKAUTH_URL."""
    clean: dict[str, str | None] = dict.fromkeys(ENV_NAMES)
    if url is not None:
        clean["MOCKAUTH_URL"] = url
    clean.update(env or {})
    return CliRunner().invoke(main, list(args), env=clean, input=stdin)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def running() -> Iterator[ServerThread]:
    with ServerThread(keys=KeyStore()) as server:
        yield server


@pytest.fixture
def server(running: ServerThread) -> ServerThread:
    """The module's server, back at its start-up state."""
    running.tenant.reset()
    return running


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServerThread]:
    with ServerThread(keys=KeyStore(), admin_secret=SECRET) as server:
        yield server


def token_request(url: str, client_id: str = APP.client_id) -> tuple[int, dict[str, str]]:
    """POST /oauth2/token; return the status and the (lower-cased) headers."""
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": APP.client_secret or "",
        "audience": AUDIENCE,
    }
    parts = urlsplit(url)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", paths.TOKEN, body=urlencode(form), headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def wait_for_journal(server: ServerThread, count: int) -> None:
    """The journal row is written as the response ends; wait until it is there."""
    deadline = time.monotonic() + WAIT
    while len(server.tenant.journal) < count:
        assert time.monotonic() < deadline, "the journal never caught up"
        time.sleep(0.01)


def rules_of(server: ServerThread) -> list[dict[str, Any]]:
    return server.tenant.faults.describe()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- help ----------------------------------------------------------------------------------


def test_top_level_help_lists_the_admin_commands() -> None:
    out = ok(run("--help"))
    for name in ("fault", "keys", "clock", "journal", "reset", "serve", "token"):
        assert f"  {name} " in out


@pytest.mark.parametrize("command", ADMIN_COMMANDS, ids=" ".join)
def test_each_admin_command_documents_url_and_secret(command: list[str]) -> None:
    words = [w for w in command if not w.startswith("-") and w not in ("x", "60")]
    out = ok(run(*words, "--help"))
    assert "MOCKAUTH_URL" in out
    assert "MOCKAUTH_ADMIN_SECRET" in out


# --- fault add -----------------------------------------------------------------------------


def test_fault_add_from_options_builds_the_rule(server: ServerThread) -> None:
    out = ok(
        run(
            *("fault", "add", "--id", "slow-x", "--endpoint", "token", "--effect", "throttle"),
            *("--retry-after", "5", "--times", "2", "--client-id", "X"),
            *("--probability", "0.3", "--seed", "7", "--expires-in", "1h"),
            url=server.url,
        )
    )
    assert out == (
        "added slow-x: token throttle retry_after=5 client_id=X "
        "expires_in=3600.0 probability=0.3 seed=7 times=2\n"
    )
    (rule,) = rules_of(server)
    assert {k: v for k, v in rule.items() if k not in ("seen", "fired", "state")} == {
        "id": "slow-x",
        "endpoint": "token",
        "client_id": "X",
        "effect": "throttle",
        "retry_after": 5,
        "times": 2,
        "probability": 0.3,
        "seed": 7,
        "expires_in": 3600.0,
    }


def test_an_added_fault_fires_on_the_next_token_request_only(server: ServerThread) -> None:
    ok(
        run(
            "fault",
            "add",
            "--endpoint",
            "token",
            "--effect",
            "throttle",
            "--retry-after",
            "5",
            "--times",
            "1",
            url=server.url,
        )
    )
    status, headers = token_request(server.url)
    assert (status, headers["retry-after"]) == (429, "5")
    assert token_request(server.url)[0] == 200
    (rule,) = rules_of(server)
    assert (rule["fired"], rule["state"]) == (1, "exhausted")


@pytest.mark.parametrize(("delay", "expected"), [("0.5", 0.5), ("0.1,0.2", [0.1, 0.2]), ("2", 2.0)])
def test_fault_add_delay_is_seconds_or_a_range(
    server: ServerThread, delay: str, expected: object
) -> None:
    ok(run("fault", "add", "--effect", "latency", "--delay", delay, url=server.url))
    assert rules_of(server)[0]["delay"] == expected


RULES = [
    {"id": "jwks-down", "endpoint": "jwks", "effect": "error", "status": 500},
    {"id": "every-3rd", "effect": "close", "every": 3},
]


@pytest.mark.parametrize("source", ["json", "file", "stdin"])
def test_fault_add_takes_an_array_of_rules_as_json(
    server: ServerThread, tmp_path: Path, source: str
) -> None:
    text = json.dumps(RULES)
    path = tmp_path / "rules.json"
    path.write_text(text)
    option = {"json": ["--json", text], "file": ["--file", str(path)], "stdin": ["--file", "-"]}
    out = ok(run("fault", "add", *option[source], url=server.url, stdin=text))
    assert out.splitlines() == [
        "added jwks-down: jwks error error=server_error status=500",
        "added every-3rd: any close every=3",
    ]
    assert [r["id"] for r in rules_of(server)] == ["jwks-down", "every-3rd"]


def test_fault_add_options_are_merged_into_a_json_rule_and_win(server: ServerThread) -> None:
    rule = {"id": "r1", "endpoint": "token", "effect": "error", "status": 500}
    ok(
        run(
            "fault",
            "add",
            "--json",
            json.dumps(rule),
            "--status",
            "503",
            "--times",
            "1",
            url=server.url,
        )
    )
    (added,) = rules_of(server)
    assert (added["status"], added["error"], added["times"]) == (503, "temporarily_unavailable", 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--effect", "throttle", "--status", "503"], "status = 503: not a parameter of effect"),
        (["--effect", "latency"], "delay"),
        (
            ["--effect", "bad_token", "--endpoint", "jwks", "--token", "expired"],
            "only applies to the token endpoint",
        ),
        (["--effect", "error", "--status", "501"], "status = 501"),
        (["--effect", "close", "--probability", "0"], "probability = 0.0: must be greater"),
        (["--effect", "close", "--client-id", "c", "--endpoint", "jwks"], "client_id"),
        (["--json", json.dumps([{"effect": "close"}, {"effect": "nope"}])], "[1].effect"),
        (
            ["--json", json.dumps([{"id": "a", "effect": "close"}] * 2)],
            "duplicate fault id [HTTP 409 conflict]",  # well-formed, but the ids clash
        ),
    ],
)
def test_a_bad_rule_is_refused_with_the_servers_message_and_nothing_is_added(
    server: ServerThread, args: list[str], message: str
) -> None:
    result = run("fault", "add", *args, url=server.url)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "[HTTP 400 invalid_request]" in result.stderr or "[HTTP 409 conflict]" in message
    assert rules_of(server) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "describe the rule"),
        (["--json", "{"], "--json: not valid JSON"),
        (["--json", "[]", "--effect", "close"], "merged into a single JSON rule object"),
        (["--json", "{}", "--file", "-"], "--json or --file, not both"),
        (["--file", "/nonexistent/rules.json"], "cannot read it"),
        (["--effect", "explode"], "'explode' is not one of"),
        (["--effect", "latency", "--delay", "soon"], "not seconds or LOW,HIGH"),
        (["--effect", "close", "--expires-in", "1y"], "not a duration"),
    ],
)
def test_fault_add_usage_errors_exit_2_before_any_request(
    server: ServerThread, args: list[str], message: str
) -> None:
    result = run("fault", "add", *args, url=server.url)
    assert result.exit_code == 2
    assert message in result.stderr
    assert rules_of(server) == []


# --- fault list, delete, clear -------------------------------------------------------------


def test_fault_list_when_there_are_none(server: ServerThread) -> None:
    assert ok(run("fault", "list", url=server.url)) == "no fault rules\n"
    assert json.loads(ok(run("fault", "list", "--json", url=server.url))) == []


def test_fault_list_shows_a_table_and_json_with_counters(server: ServerThread) -> None:
    server.tenant.faults.add(*RULES)
    token_request(server.url)
    out = ok(run("fault", "list", url=server.url)).splitlines()
    assert out[0].split() == [
        "ID",
        "WHERE",
        "MATCH",
        "EFFECT",
        "HOW",
        "OFTEN",
        "SEEN",
        "FIRED",
        "STATE",
    ]
    assert out[1].split() == [
        "jwks-down",
        "jwks",
        "-",
        "error",
        "error=server_error",
        "status=500",
        "-",
        "0",
        "0",
        "active",
    ]
    assert out[2].split() == ["every-3rd", "any", "-", "close", "every=3", "1", "0", "active"]
    listed = json.loads(ok(run("fault", "list", "--json", url=server.url)))
    assert listed == rules_of(server)
    assert listed[1]["seen"] == 1


def test_fault_delete_removes_one_rule(server: ServerThread) -> None:
    server.tenant.faults.add(*RULES)
    out = ok(run("fault", "delete", "jwks-down", url=server.url))
    assert out == "deleted jwks-down: jwks error error=server_error status=500\n"
    assert [r["id"] for r in rules_of(server)] == ["every-3rd"]


@pytest.mark.parametrize("rule_id", ["nope", "a.b:c", "x y"])
def test_fault_delete_of_an_unknown_id_exits_2_with_the_servers_message(
    server: ServerThread, rule_id: str
) -> None:
    server.tenant.faults.add(*RULES)
    result = run("fault", "delete", rule_id, url=server.url)
    assert result.exit_code == 2
    assert f"No fault rule has the id {rule_id!r}. [HTTP 404 not_found]" in result.stderr
    assert len(rules_of(server)) == 2


@pytest.mark.parametrize(("count", "words"), [(0, "0 fault rules"), (1, "1 fault rule\n")])
def test_fault_clear_deletes_every_rule(server: ServerThread, count: int, words: str) -> None:
    server.tenant.faults.add(*RULES[:count])
    assert words in ok(run("fault", "clear", url=server.url))
    assert rules_of(server) == []


# --- keys ----------------------------------------------------------------------------------


def test_keys_list_marks_the_active_key(server: ServerThread) -> None:
    keys = server.tenant.keys
    out = ok(run("keys", "list", url=server.url)).splitlines()
    assert out[0].split() == ["KID", "STATE", "RETIRES"]
    assert [keys.active_kid, "active", "-"] in [line.split() for line in out]
    state = json.loads(ok(run("keys", "list", "--json", url=server.url)))
    assert state["active"] == keys.active_kid
    assert state["published"] == list(keys.published_kids)


def test_keys_rotate_keeps_the_previous_key_published(server: ServerThread) -> None:
    keys = server.tenant.keys
    before = keys.active_kid
    out = ok(run("keys", "rotate", url=server.url))
    assert keys.active_kid != before
    assert before in keys.published_kids
    assert f"new signing key {keys.active_kid} (previous: {before})" in out
    assert [before, "published", "-"] in [line.split() for line in out.splitlines()]


def test_keys_rotate_with_overlap_schedules_the_retirement(server: ServerThread) -> None:
    keys = server.tenant.keys
    before = keys.active_kid
    state = json.loads(ok(run("keys", "rotate", "--overlap", "2h", "--json", url=server.url)))
    assert state["previous"] == before
    assert keys.retire_at[before] > time.time() + 3_600  # two hours out, not one
    assert state["retire_at"][before] == keys.retire_at[before]
    rows = [line.split() for line in ok(run("keys", "list", url=server.url)).splitlines()]
    (row,) = [r for r in rows if r[0] == before]
    assert row[1:3] == [
        "published",
        datetime.fromtimestamp(keys.retire_at[before], UTC).date().isoformat(),
    ]
    assert row[5] == "(in"


def test_keys_retire_removes_a_key_from_the_jwks(server: ServerThread) -> None:
    keys = server.tenant.keys
    old = keys.active_kid
    server.tenant.rotate_keys(overlap=None)
    out = ok(run("keys", "retire", old, url=server.url))
    assert out.startswith(f"retired {old}\n")
    assert old not in keys.published_kids


def test_keys_retire_all_leaves_only_the_active_key(server: ServerThread) -> None:
    keys = server.tenant.keys
    server.tenant.rotate_keys(overlap=None)
    server.tenant.rotate_keys(overlap=None)
    ok(run("keys", "retire", "--all", url=server.url))
    assert list(keys.published_kids) == [keys.active_kid]
    assert "no key to retire" in ok(run("keys", "retire", "--all", url=server.url))


def test_retiring_the_active_key_is_refused_by_the_server(server: ServerThread) -> None:
    active = server.tenant.keys.active_kid
    result = run("keys", "retire", active, url=server.url)
    assert result.exit_code == 2
    assert "is the active signing key; rotate first [HTTP 409 conflict]" in result.stderr
    assert active in server.tenant.keys.published_kids


@pytest.mark.parametrize("args", [[], ["some-kid", "--all"]])
def test_keys_retire_needs_a_kid_or_all(server: ServerThread, args: list[str]) -> None:
    published = list(server.tenant.keys.published_kids)
    result = run("keys", "retire", *args, url=server.url)
    assert result.exit_code == 2
    assert "give a KID or --all" in result.stderr
    assert list(server.tenant.keys.published_kids) == published


# --- clock ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "offset", "frozen_at"),
    [
        (["--offset", "90"], 90.0, None),
        (["--offset", "-1h"], -3600.0, None),
        (["--offset", "1.5m"], 90.0, None),
        (["--offset=2d"], 172_800.0, None),
        (["--advance", "-30s"], -30.0, None),
        (["--freeze", "--at", "2030-01-01T00:00:00"], 0.0, 1_893_456_000.0),
        (["--freeze", "--at", "2030-01-01T01:00:00+01:00"], 0.0, 1_893_456_000.0),
        (["--freeze", "--at", "1893456000"], 0.0, 1_893_456_000.0),
    ],
)
def test_clock_set_changes_the_servers_clock(
    server: ServerThread, args: list[str], offset: float, frozen_at: float | None
) -> None:
    state = json.loads(ok(run("clock", "set", *args, "--json", url=server.url)))
    clock = server.tenant.clock
    assert (clock.offset, clock.frozen_at) == (offset, frozen_at)
    assert (state["offset"], state["frozen_at"]) == (offset, frozen_at)


def test_clock_advance_moves_a_frozen_clock(server: ServerThread) -> None:
    server.tenant.clock.freeze(1_000_000.0)
    out = ok(run("clock", "set", "--advance", "1h", url=server.url))
    assert server.tenant.clock.frozen_at == 1_003_600.0
    assert out.splitlines() == [
        "now:    1970-01-12 14:46:40 UTC (1003600)",
        "frozen: yes, at 1970-01-12 14:46:40 UTC",
    ]


def test_clock_freeze_without_at_freezes_now(server: ServerThread) -> None:
    before = time.time()
    ok(run("clock", "set", "--freeze", url=server.url))
    frozen = server.tenant.clock.frozen_at
    assert frozen is not None and int(before) <= frozen <= time.time() + 1


def test_clock_show_and_reset(server: ServerThread) -> None:
    server.tenant.clock.set_offset(-5400)
    shown = ok(run("clock", "show", url=server.url)).splitlines()
    assert shown[1] == "offset: -1h 30m (-5400 s from real time)"
    out = ok(run("clock", "reset", url=server.url))
    assert (server.tenant.clock.offset, server.tenant.clock.frozen_at) == (0.0, None)
    assert out.splitlines()[1] == "offset: none (real time)"
    assert json.loads(ok(run("clock", "show", "--json", url=server.url)))["offset"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of"),
        (["--offset", "1", "--advance", "1"], "exactly one of"),
        (["--offset", "1", "--freeze"], "exactly one of"),
        (["--offset", "1", "--at", "5"], "--at needs --freeze"),
        (["--at", "5"], "--at needs --freeze"),
        (["--offset", "soon"], "not a duration"),
        (["--freeze", "--at", "tomorrow"], "neither epoch seconds nor an ISO 8601"),
        (["--freeze", "--at", "nan"], "not a finite number"),
    ],
)
def test_clock_set_usage_errors_exit_2(server: ServerThread, args: list[str], message: str) -> None:
    result = run("clock", "set", *args, url=server.url)
    assert result.exit_code == 2
    assert message in result.stderr
    assert (server.tenant.clock.offset, server.tenant.clock.frozen_at) == (0.0, None)


def test_an_out_of_range_offset_is_refused_by_the_server(server: ServerThread) -> None:
    result = run("clock", "set", "--offset", "40000d", url=server.url)
    assert result.exit_code == 2
    assert "offset = 3456000000.0: must be a number from" in result.stderr, result.stderr
    assert server.tenant.clock.offset == 0.0


# --- journal -------------------------------------------------------------------------------


@pytest.fixture
def recorded(server: ServerThread) -> ServerThread:
    """Three token requests (two good, one from an unknown client) and a JWKS fetch."""
    token_request(server.url)
    token_request(server.url, client_id="unknown-client")
    token_request(server.url)
    with contextlib.closing(http.client.HTTPConnection(*_address(server.url), timeout=WAIT)) as c:
        c.request("GET", paths.JWKS)
        c.getresponse().read()
    wait_for_journal(server, 4)
    return server


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def test_journal_shows_every_request(recorded: ServerThread) -> None:
    lines = ok(run("journal", url=recorded.url)).splitlines()
    assert lines[0].split() == [
        "SEQ",
        "TIME",
        "METHOD",
        "PATH",
        "STATUS",
        "CLIENT",
        "GRANT",
        "FAULT",
        "MS",
    ]
    rows = [line.split() for line in lines[1:]]
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [
        ("POST", paths.TOKEN, "200", APP.client_id),
        ("POST", paths.TOKEN, "401", "unknown-client"),
        ("POST", paths.TOKEN, "200", APP.client_id),
        ("GET", paths.JWKS, "200", "-"),
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--client-id", "unknown-client"], [("unknown-client", 401)]),
        (["--status", "401"], [("unknown-client", 401)]),
        (["--path", paths.JWKS], [(None, 200)]),
        (["--limit", "2"], [(APP.client_id, 200), (None, 200)]),
        (["--path", paths.TOKEN, "--status", "200", "--limit", "1"], [(APP.client_id, 200)]),
        (["--client-id", "nobody"], []),
    ],
)
def test_journal_filters(recorded: ServerThread, args: list[str], expected: list[Any]) -> None:
    entries = json.loads(ok(run("journal", *args, "--json", url=recorded.url)))
    assert [(e["client_id"], e["status"]) for e in entries] == expected


def test_an_empty_journal(server: ServerThread) -> None:
    assert ok(run("journal", url=server.url)) == "no journal entries\n"


def test_journal_records_which_fault_fired(server: ServerThread) -> None:
    server.tenant.faults.add({"id": "boom", "endpoint": "token", "effect": "error", "status": 503})
    assert token_request(server.url)[0] == 503
    wait_for_journal(server, 1)
    (entry,) = json.loads(ok(run("journal", "--fault", "boom", "--json", url=server.url)))
    assert (entry["status"], entry["fault"]) == (503, "boom")


def test_journal_clear_forgets_every_entry(recorded: ServerThread) -> None:
    assert ok(run("journal", "clear", url=recorded.url)) == "deleted 4 journal entries\n"
    assert len(recorded.tenant.journal) == 0


def test_journal_clear_takes_the_url_from_the_group_or_itself(server: ServerThread) -> None:
    token_request(server.url)
    wait_for_journal(server, 1)
    out = ok(run("journal", "--url", server.url, "clear"))
    assert out == "deleted 1 journal entry\n"
    assert ok(run("journal", "clear", "--url", server.url)) == "deleted 0 journal entries\n"


@pytest.mark.parametrize("args", [["--limit", "1"], ["--json"], ["--status", "200"]])
def test_journal_filters_cannot_go_with_clear(recorded: ServerThread, args: list[str]) -> None:
    result = run("journal", *args, "clear", url=recorded.url)
    assert result.exit_code == 2
    assert "cannot be used with a subcommand" in result.stderr
    assert len(recorded.tenant.journal) == 4


# --- reset ---------------------------------------------------------------------------------


def test_reset_restores_the_startup_state(server: ServerThread) -> None:
    tenant = server.tenant
    tenant.faults.add(*RULES)
    tenant.clock.set_offset(600)
    token_request(server.url)
    wait_for_journal(server, 1)
    assert ok(run("reset", url=server.url)).startswith("reset: ")
    assert (rules_of(server), tenant.clock.offset, len(tenant.journal)) == ([], 0.0, 0)


# --- the admin secret ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ADMIN_COMMANDS, ids=" ".join)
def test_every_command_needs_the_secret_when_the_server_has_one(
    guarded: ServerThread, command: list[str]
) -> None:
    result = run(*command, url=guarded.url)
    assert result.exit_code == 2
    assert "Authorization: Bearer <admin secret>" in result.stderr
    assert "[HTTP 401 invalid_token]" in result.stderr
    assert "--admin-secret or MOCKAUTH_ADMIN_SECRET" in result.stderr
    assert guarded.tenant.faults.describe() == []


def test_an_empty_secret_is_no_secret_and_gets_the_hint(guarded: ServerThread) -> None:
    result = run("fault", "list", url=guarded.url, env={"MOCKAUTH_ADMIN_SECRET": ""})
    assert result.exit_code == 2
    assert "needs the header" in result.stderr
    assert "(give it with --admin-secret or MOCKAUTH_ADMIN_SECRET)" in result.stderr


@pytest.mark.parametrize("how", ["option", "env"])
def test_a_wrong_secret_is_told_it_is_wrong(guarded: ServerThread, how: str) -> None:
    if how == "option":
        result = run("fault", "list", "--admin-secret", "wrong", url=guarded.url)
    else:
        result = run("fault", "list", url=guarded.url, env={"MOCKAUTH_ADMIN_SECRET": "wrong"})
    assert result.exit_code == 2
    assert "admin secret in the 'Authorization: Bearer' header is wrong" in result.stderr
    assert "[HTTP 401 invalid_token]" in result.stderr
    assert "(the secret given is wrong" in result.stderr
    assert "give it with" not in result.stderr and "needs the header" not in result.stderr


@pytest.mark.parametrize("how", ["option", "env"])
def test_the_right_secret_is_accepted(guarded: ServerThread, how: str) -> None:
    if how == "option":
        result = run("clock", "set", "--offset", "60", "--admin-secret", SECRET, url=guarded.url)
    else:
        env = {"MOCKAUTH_ADMIN_SECRET": SECRET}
        result = run("clock", "set", "--offset", "60", url=guarded.url, env=env)
    ok(result)
    assert guarded.tenant.clock.offset == 60.0
    guarded.tenant.clock.reset()


def test_journal_clear_inherits_the_secret_given_to_the_group(guarded: ServerThread) -> None:
    ok(run("journal", "--url", guarded.url, "--admin-secret", SECRET, "clear"))


# --- unreachable and odd servers -----------------------------------------------------------


@pytest.mark.parametrize("command", ADMIN_COMMANDS, ids=" ".join)
def test_an_unreachable_server_exits_1_naming_the_url(command: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there any more
    result = run(*command, url=url)
    assert result.exit_code == 1
    assert f"cannot reach the mockauth server at {url}:" in result.stderr
    assert "MOCKAUTH_URL" in result.stderr


def test_the_default_url_is_the_default_server_address() -> None:
    shown = " ".join(ok(run("fault", "list", "--help")).split())
    assert "[default: (http://127.0.0.1:8400, or as MOCKAUTH_HOST, MOCKAUTH_PORT" in shown


def test_the_default_url_follows_the_serve_settings_in_the_environment(
    running: ServerThread,
) -> None:
    port = str(urlsplit(running.url).port)
    ok(run("fault", "list", env={"MOCKAUTH_PORT": port}))
    result = run("fault", "list", env={"MOCKAUTH_PORT": port, "MOCKAUTH_TLS": "maybe"})
    assert result.exit_code == 2
    assert "MOCKAUTH_TLS = 'maybe' is not a boolean" in result.stderr


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "127.0.0.1:8400", "http://"])
def test_a_url_that_is_not_http_is_a_usage_error(url: str) -> None:
    result = run("fault", "list", "--url", url)
    assert result.exit_code == 2
    assert "--url" in result.stderr and "is not an http(s) URL" in result.stderr


class _Stub(http.server.BaseHTTPRequestHandler):
    """Answers every request with the status, content type and body in ``server.answer``."""

    def do_GET(self) -> None:
        status, ctype, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def stub_server(status: int, ctype: str, body: bytes) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    httpd.answer = (status, ctype, body)  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(WAIT)


@pytest.mark.parametrize(
    ("status", "ctype", "body", "code", "message"),
    [
        (
            500,
            "application/json",
            b'{"error": "server_error", "error_description": "boom"}',
            1,
            "boom [HTTP 500 server_error]",
        ),
        (404, "application/json", b'{"detail": "Not Found"}', 2, '{"detail": "Not Found"}'),
    ],
)
def test_answers_from_something_else_are_reported(
    status: int, ctype: str, body: bytes, code: int, message: str
) -> None:
    with stub_server(status, ctype, body) as url:
        result = run("fault", "list", url=url)
    assert result.exit_code == code
    assert message in result.stderr


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"<h1>no such page</h1>"),
        (503, b"<h1>down</h1>"),
        (200, b"<html>hi</html>"),
        (404, b""),
    ],
)
def test_an_answer_that_is_not_json_is_not_a_mockauth_server(status: int, body: bytes) -> None:
    # e.g. --url at `python -m http.server` or at one's own API: exit 1, as for no server.
    with stub_server(status, "text/html", body) as url:
        result = run("fault", "list", url=url)
    assert result.exit_code == 1, result.stderr
    expected = f"the answer from {url} is not JSON (is this a mockauth server?)"
    assert result.stderr == f"mockauth: {expected}\n"
    with stub_server(status, "text/html", body) as url, pytest.raises(NotMockAuthError) as caught:
        AdminClient(url).faults()
    assert isinstance(caught.value, AdminUnreachableError)  # what callers already catch
    assert caught.value.status == status


# --- the Python client ---------------------------------------------------------------------


def test_admin_client_round_trip(server: ServerThread) -> None:
    admin = AdminClient(server.url + "/")
    assert admin.health() == {"status": "ok"}
    (added,) = admin.add_faults({"id": "c", "effect": "close", "times": 1})
    assert added["id"] == "c"
    assert [r["id"] for r in admin.faults()] == ["c"]
    assert admin.delete_fault("c")["id"] == "c"
    assert admin.clear_faults() == 0
    assert admin.set_clock(offset=5)["offset"] == 5
    assert admin.reset_clock()["offset"] == 0
    assert admin.journal(limit=1) == []
    with pytest.raises(AdminResponseError) as refused:
        admin.set_clock(offset=1, advance=1)
    assert (refused.value.status, refused.value.error) == (400, "invalid_request")
    assert "exactly one of" in refused.value.description


def test_admin_client_unreachable_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(AdminUnreachableError) as failed:
        AdminClient(url, timeout=5).health()
    assert failed.value.url == url
    assert str(failed.value).startswith(f"cannot reach the mockauth server at {url}: ")


# --- `mockauth serve --admin-secret` and the commands as real processes --------------------


def test_serve_help_names_the_admin_secret_variable() -> None:
    assert "MOCKAUTH_ADMIN_SECRET" in ok(run("serve", "--help"))


@pytest.mark.parametrize("secret", [" padded", "padded ", ""])
def test_serve_refuses_a_secret_with_spaces_or_empty(tmp_path: Path, secret: str) -> None:
    result = run("serve", "--keys-dir", str(tmp_path), "--admin-secret", secret)
    assert result.exit_code == 2
    assert "--admin-secret" in result.stderr


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKAUTH_")}
    return env | (extra or {})


class Serve:
    """`python -m mockauth serve --port 0 ...`; stdout lines go to a queue."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockauth", "serve", "--port", "0", *args],
            cwd=cwd,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self) -> str:
        line = self.lines.get(timeout=WAIT)
        assert line is not None, f"mockauth serve exited with {self.proc.wait(WAIT)}"
        return line

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(WAIT)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def mockauth(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockauth", *args],
        env=_clean_env(env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=WAIT * 2,
        check=False,
    )


def test_commands_as_processes_against_mockauth_serve_with_a_secret(tmp_path: Path) -> None:
    serve = Serve("--admin-secret", SECRET, "--keys-dir", str(tmp_path / "keys"), cwd=tmp_path)
    try:
        url = serve.line().removeprefix("mockauth serving on ")
        banner = [serve.line() for _ in range(7)]
        assert "  admin secret (Authorization: Bearer): (as given)" in banner
        assert not any(SECRET in line for line in banner)  # a given secret is not echoed
        env = {"MOCKAUTH_URL": url}

        refused = mockauth("fault", "list", env=env)
        assert refused.returncode == 2, refused.stderr
        assert "Authorization: Bearer" in refused.stderr

        env["MOCKAUTH_ADMIN_SECRET"] = SECRET
        added = mockauth(
            "fault",
            "add",
            "--endpoint",
            "token",
            "--effect",
            "error",
            "--status",
            "503",
            "--times",
            "1",
            "--id",
            "once",
            env=env,
        )
        assert added.returncode == 0, added.stderr
        assert added.stdout.startswith("added once: token error")
        assert token_request(url)[0] == 503
        assert token_request(url)[0] == 200

        listed = mockauth("fault", "list", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        (rule,) = json.loads(listed.stdout)
        assert (rule["id"], rule["fired"], rule["state"]) == ("once", 1, "exhausted")

        journal = mockauth("journal", "--json", "--path", paths.TOKEN, env=env)
        assert [e["status"] for e in json.loads(journal.stdout)] == [503, 200]

        rotated = mockauth("keys", "rotate", "--json", env=env)
        state = json.loads(rotated.stdout)
        assert state["previous"] in state["published"] and state["active"] != state["previous"]
        # rotated keys persist in the keys dir the server was started in
        assert KeyStore(tmp_path / "keys").active_kid == state["active"]

        assert mockauth("reset", env=env).returncode == 0
    finally:
        serve.stop()
    gone = mockauth("clock", "show", env=env)
    assert gone.returncode == 1
    assert f"cannot reach the mockauth server at {url}" in gone.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_stops_serve_cleanly_like_ctrl_c(tmp_path: Path, workers: str) -> None:
    # docker stop, systemd and CI send SIGTERM: a stop, not a crash (uvicorn re-raised it
    # after its graceful shutdown and the process died with 143).
    serve = Serve("--workers", workers, cwd=tmp_path)
    try:
        assert serve.line().startswith("mockauth serving on ")
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(WAIT) == 0
    finally:
        serve.stop()


def test_frozen_clock_shows_in_issued_tokens(server: ServerThread) -> None:
    at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    ok(run("clock", "set", "--freeze", "--at", at.isoformat(), url=server.url))
    assert server.tenant.clock.now() == int(at.timestamp())
