"""Fault rules as data and the engine's decisions (no HTTP; see test_faults_http.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from mockauth import paths
from mockauth.errors import ConfigError
from mockauth.faults.badtokens import BAD_TOKENS
from mockauth.faults.engine import FaultEngine
from mockauth.faults.rules import EFFECTS, FaultRule, parse_rule, parse_rules
from mockauth.tenant.config import default_config, parse_config
from mockauth.tenant.journal import RequestSummary
from mockauth.tenant.sqlite import open_store
from mockauth.tenant.tenant import Tenant

TOKEN = RequestSummary(paths.TOKEN, "c1", "client_credentials", ("https://api.example.com",))
JWKS = RequestSummary(paths.JWKS)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fired(engine: FaultEngine, request: RequestSummary, n: int) -> list[str | None]:
    out = []
    for _ in range(n):
        decision = engine.decide(request)
        out.append(decision.rule.id if decision else None)
    return out


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"effect": "latency", "delay": 0.5},
        {"effect": "latency", "delay": [0.1, 0.3], "seed": 7},
        {"effect": "error", "status": 503},
        {"effect": "error", "error": "invalid_client", "description": "nope"},
        {"effect": "throttle", "retry_after": 30},
        {"effect": "invalid_json", "endpoint": "discovery"},
        {"effect": "truncated", "path": "/.well-known/jwks.json"},
        {"effect": "wrong_content_type"},
        {"effect": "html_error", "status": 504},
        {"effect": "empty", "times": 2},
        {"effect": "hang", "timeout": 2.5},
        {"effect": "close", "every": 3},
        {"effect": "bad_token", "token": "expired", "client_id": "c1"},
        {"effect": "jwks_empty", "probability": 0.5, "seed": 1},
        {"effect": "jwks_missing_key", "expires_in": 60},
        {"id": "mine", "effect": "error", "status": 500, "audience": "a", "grant_type": "g"},
    ],
)
def test_every_rule_shape_round_trips_through_to_dict(data: dict[str, Any]) -> None:
    rule = parse_rule(data)
    assert parse_rule(rule.to_dict()) == rule
    for key, value in data.items():
        assert rule.to_dict()[key] == value


@pytest.mark.parametrize(
    ("data", "key", "words"),
    [
        ({}, "effect", "must be one of"),
        ({"effect": "explode"}, "effect", "must be one of"),
        ({"effect": "error", "status": 302}, "status", "from 400 to 599"),
        ({"effect": "error", "status": 501}, "status", "500, 502, 503, 504"),
        ({"effect": "error"}, "status", "give status"),
        ({"effect": "error", "status": "503"}, "status", "must be an integer"),
        ({"effect": "error", "error": "bad code"}, "error", "OAuth error code"),
        ({"effect": "latency"}, "delay", "required"),
        ({"effect": "latency", "delay": -1}, "delay", "from 0 to 120"),
        ({"effect": "latency", "delay": [1]}, "delay", "[low, high]"),
        ({"effect": "latency", "delay": True}, "delay", "must be a number"),
        ({"effect": "hang", "timeout": float("inf")}, "timeout", "must be a number"),
        ({"effect": "bad_token", "token": "nope"}, "token", "must be one of"),
        ({"effect": "bad_token", "token": "expired", "endpoint": "jwks"}, "endpoint", "token"),
        ({"effect": "jwks_empty", "endpoint": "token"}, "endpoint", "jwks endpoint"),
        ({"effect": "close", "endpoint": "admin"}, "endpoint", "must be one of"),
        ({"effect": "close", "path": "/_mockauth/faults"}, "path", "/_mockauth"),
        ({"effect": "close", "path": "x"}, "path", "must start with '/'"),
        ({"effect": "close", "path": "/x", "endpoint": "token"}, "path", "not both"),
        ({"effect": "close", "endpoint": "jwks", "client_id": "c"}, "client_id", "token endpoint"),
        ({"effect": "close", "status": 500}, "status", "not a parameter of effect 'close'"),
        ({"effect": "close", "colour": "red"}, "colour", "unknown key"),
        ({"effect": "close", "times": 0}, "times", "from 1"),
        ({"effect": "close", "every": 1.5}, "every", "must be an integer"),
        ({"effect": "close", "probability": 0}, "probability", "greater than 0"),
        ({"effect": "close", "probability": 1.5}, "probability", "from 0 to 1"),
        ({"effect": "close", "expires_in": 0}, "expires_in", "greater than 0"),
        ({"effect": "close", "seed": -1}, "seed", "from 0"),
        ({"effect": "close", "id": "has space"}, "id", "letters, digits"),
        ({"effect": "close", "client_id": ""}, "client_id", "non-empty"),
        ({"effect": "close", "audience": "\u0018y"}, "audience", "control characters"),
        ({"effect": "close", "grant_type": "a" * 1001}, "grant_type", "at most 1000"),
        ({"effect": "error", "status": 500, "description": "x\ny"}, "description", "control"),
        ({"effect": "close", "path": "/a\u0085"}, "path", "control characters"),
        ({"effect": "close", "id": ""}, "id", "1 to 64"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(data: Any, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rule(data, source="test")
    assert caught.value.key == key
    assert words in caught.value.reason
    assert str(caught.value).startswith(f"test: {key} = ")


def test_a_delay_range_may_name_its_ends_in_either_order() -> None:
    # The OpenAPI document cannot say "low <= high", so the server does not ask it either.
    assert parse_rule({"effect": "latency", "delay": [0.3, 0.1]}).effect.delay == (0.1, 0.3)


def test_a_rule_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="must be a table"):
        parse_rule(["effect", "close"])


def test_rule_lists_name_the_index_and_refuse_duplicate_ids() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules([{"effect": "close"}, {"effect": "error"}], key="faults")
    assert caught.value.key == "faults[1].status"
    with pytest.raises(ConfigError) as caught:
        parse_rules([{"id": "a", "effect": "close"}, {"id": "a", "effect": "empty"}])
    assert caught.value.key == "[1].id"
    with pytest.raises(ConfigError, match="array"):
        parse_rules({"effect": "close"})


@pytest.mark.parametrize(
    ("data", "endpoint"),
    [
        ({"effect": "close"}, "any"),
        ({"effect": "close", "client_id": "c"}, "token"),
        ({"effect": "bad_token", "token": "alg_none"}, "token"),
        ({"effect": "jwks_missing_key"}, "jwks"),
    ],
)
def test_default_endpoint_follows_what_the_rule_is_about(data: Any, endpoint: str) -> None:
    assert parse_rule(data).match.endpoint == endpoint


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"status": 500}, 500, "server_error"),
        ({"status": 502}, 502, "server_error"),
        ({"status": 503}, 503, "temporarily_unavailable"),
        ({"status": 504}, 504, "server_error"),
        ({"status": 401}, 401, "invalid_client"),
        ({"status": 418}, 418, "invalid_request"),
        ({"error": "invalid_client"}, 401, "invalid_client"),
        ({"error": "invalid_grant"}, 400, "invalid_grant"),
        ({"error": "slow_down"}, 400, "slow_down"),
        ({"error": "invalid_client", "status": 400}, 400, "invalid_client"),
    ],
)
def test_error_effects_fill_in_status_or_code(data: Any, status: int, error: str) -> None:
    effect = parse_rule({"effect": "error", **data}).effect
    assert (effect.status, effect.error) == (status, error)


def test_every_bad_token_name_is_a_valid_bad_token_effect() -> None:
    for name in BAD_TOKENS:
        assert parse_rule({"effect": "bad_token", "token": name}).effect.token == name


def test_every_effect_is_documented_with_its_parameters() -> None:
    for effect, params in EFFECTS.items():
        data: dict[str, Any] = {"effect": effect}
        if "delay" in params:
            data["delay"] = 0
        if "token" in params:
            data["token"] = "expired"
        if effect == "error":
            data["status"] = 500
        assert parse_rule(data).effect.kind == effect


# --- config file ---------------------------------------------------------------------------


def test_config_file_faults_are_parsed_into_the_tenant() -> None:
    toml = b"""
[[faults]]
id = "slow-jwks"
endpoint = "jwks"
effect = "latency"
delay = [0.1, 0.2]
seed = 3

[[faults]]
effect = "error"
status = 503
times = 2

[keys]
overlap = 90
"""
    config = parse_config(toml, source="mock.toml")
    assert [r.id for r in config.faults] == ["slow-jwks", ""]
    assert config.key_overlap == 90.0
    tenant = Tenant(config, issuer="http://x")
    assert [r.id for r in tenant.faults.rules()] == ["slow-jwks", "fault-1"]


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        (b'[[faults]]\neffect = "error"\nstatus = 999\n', "faults[0].status"),
        (b'[[faults]]\neffect = "close"\n[[faults]]\neffect = "boom"\n', "faults[1].effect"),
        (b'faults = "close"\n', "faults"),
        (b"[keys]\noverlap = -1\n", "keys.overlap"),
        (b'[keys]\noverlap = "1h"\n', "keys.overlap"),
        (b"[keys]\nrotate = 1\n", "keys.rotate"),
    ],
)
def test_config_file_fault_errors_name_file_and_key(toml: bytes, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(toml, source="mock.toml")
    assert caught.value.source == "mock.toml"
    assert caught.value.key == key


def test_a_counted_fault_fires_once_across_workers(tmp_path: Path) -> None:
    config = parse_config(b'[[faults]]\neffect = "close"\ntimes = 1\n', source="f.toml")
    first = Tenant(config, issuer="http://x", keys_dir=tmp_path, workers=2)
    second = Tenant(
        issuer="http://x",
        keys_dir=tmp_path,
        store=open_store(tmp_path, instance=first.store.instance),
        seed=False,
    )
    assert second.faults.live and second.faults.decide(TOKEN) is not None
    assert first.faults.decide(TOKEN) is None  # fired once, at the other worker
    first.refresh()
    assert not first.faults.live  # so the fast path opens again
    assert first.faults.describe()[0]["fired"] == 1


# --- the engine ----------------------------------------------------------------------------


def test_no_rule_means_not_live_and_no_decision() -> None:
    engine = FaultEngine()
    assert not engine.live
    assert engine.decide(TOKEN) is None


@pytest.mark.parametrize(
    ("match", "token_fires", "jwks_fires"),
    [
        ({}, True, True),
        ({"endpoint": "token"}, True, False),
        ({"endpoint": "jwks"}, False, True),
        ({"path": paths.JWKS}, False, True),
        ({"path": paths.JWKS_JSON}, False, False),
        ({"client_id": "c1"}, True, False),
        ({"client_id": "c2"}, False, False),
        ({"audience": "https://api.example.com"}, True, False),
        ({"audience": "https://other"}, False, False),
        ({"grant_type": "client_credentials"}, True, False),
        ({"grant_type": "refresh_token"}, False, False),
    ],
)
def test_matching(match: dict[str, str], token_fires: bool, jwks_fires: bool) -> None:
    engine = FaultEngine([{"effect": "close", **match}])
    assert (engine.decide(TOKEN) is not None) is token_fires
    assert (engine.decide(JWKS) is not None) is jwks_fires


def test_times_fires_on_the_next_n_matching_requests_then_goes_quiet() -> None:
    engine = FaultEngine([{"id": "x", "effect": "close", "endpoint": "token", "times": 2}])
    assert engine.decide(JWKS) is None  # not matching: not counted
    assert fired(engine, TOKEN, 4) == ["x", "x", None, None]
    assert not engine.live
    status = engine.describe("x")[0]
    assert (status["seen"], status["fired"], status["state"]) == (2, 2, "exhausted")


def test_generated_ids_never_take_a_name_given_in_the_same_batch() -> None:
    engine = FaultEngine()
    added = engine.add({"effect": "close"}, {"id": "fault-1", "effect": "empty"})
    ids = [rule.id for rule in added]
    assert len(set(ids)) == 2 and "fault-1" in ids
    assert sorted(r.id for r in engine.rules()) == sorted(ids)


def test_trailing_newlines_are_not_valid_ids_or_codes() -> None:
    with pytest.raises(ConfigError):
        parse_rule({"id": "x\n", "effect": "close"})
    with pytest.raises(ConfigError):
        parse_rule({"effect": "error", "error": "server_error\n"})


def test_every_nth() -> None:
    engine = FaultEngine([{"id": "x", "effect": "close", "every": 3}])
    assert fired(engine, TOKEN, 7) == [None, None, "x", None, None, "x", None]


def test_every_nth_at_most_times() -> None:
    engine = FaultEngine([{"id": "x", "effect": "close", "every": 2, "times": 2}])
    assert fired(engine, TOKEN, 8) == [None, "x", None, "x", None, None, None, None]


def test_probability_replays_with_the_same_seed() -> None:
    rule = {"id": "p", "effect": "close", "probability": 0.3, "seed": 1234}
    first = fired(FaultEngine([rule]), TOKEN, 200)
    again = fired(FaultEngine([rule]), TOKEN, 200)
    other = fired(FaultEngine([{**rule, "seed": 4321}]), TOKEN, 200)
    assert first == again
    assert first != other
    assert 20 < first.count("p") < 100  # p = 0.3 of 200, far from both edges


def test_a_random_rule_without_seed_gets_one_that_replays_it() -> None:
    engine = FaultEngine([{"id": "p", "effect": "close", "probability": 0.5}])
    seed = engine.describe()[0]["seed"]
    assert isinstance(seed, int)
    replay = FaultEngine([{"id": "p", "effect": "close", "probability": 0.5, "seed": seed}])
    assert fired(engine, TOKEN, 100) == fired(replay, TOKEN, 100)


def test_ranged_latency_is_drawn_from_the_seed() -> None:
    rule = {"effect": "latency", "delay": [0.1, 0.2], "seed": 5}

    def delays(engine: FaultEngine) -> list[float]:
        return [d.delay for d in (engine.decide(TOKEN) for _ in range(20)) if d]

    first = delays(FaultEngine([rule]))
    assert first == delays(FaultEngine([rule]))
    assert first != delays(FaultEngine([{**rule, "seed": 6}]))
    assert len(first) == 20 and all(0.1 <= d <= 0.2 for d in first)


def test_rules_expire() -> None:
    clock = FakeTime()
    engine = FaultEngine([{"id": "x", "effect": "close", "expires_in": 10}], now=clock)
    assert fired(engine, TOKEN, 1) == ["x"]
    clock.now += 10
    assert fired(engine, TOKEN, 1) == [None]
    assert not engine.live
    assert engine.describe()[0]["state"] == "expired"


def test_first_rule_that_fires_wins_and_later_rules_do_not_count_the_request() -> None:
    engine = FaultEngine(
        [
            {"id": "a", "effect": "close", "every": 2},
            {"id": "b", "effect": "empty", "times": 1},
        ]
    )
    assert fired(engine, TOKEN, 4) == ["b", "a", None, "a"]
    assert [d["seen"] for d in engine.describe()] == [4, 1]


def test_add_is_all_or_nothing_and_ids_are_unique() -> None:
    engine = FaultEngine([{"id": "a", "effect": "close"}])
    with pytest.raises(ConfigError):
        engine.add({"id": "b", "effect": "close"}, {"effect": "nope"})
    with pytest.raises(ConfigError, match="exists"):
        engine.add({"id": "c", "effect": "close"}, {"id": "a", "effect": "close"})
    with pytest.raises(ConfigError, match="exists"):
        engine.add({"id": "d", "effect": "close"}, {"id": "d", "effect": "close"})
    assert [r.id for r in engine.rules()] == ["a"]


def test_generated_ids_skip_taken_ones() -> None:
    engine = FaultEngine([{"id": "fault-1", "effect": "close"}])
    added = engine.add({"effect": "close"}, {"effect": "empty"})
    assert [r.id for r in added] == ["fault-2", "fault-3"]


def test_remove_clear_and_load() -> None:
    engine = FaultEngine([{"id": "a", "effect": "close"}, {"id": "b", "effect": "close"}])
    assert engine.remove("a").id == "a"
    with pytest.raises(KeyError):
        engine.remove("a")
    with pytest.raises(KeyError):
        engine.describe("a")
    assert engine.clear() == 1
    assert not engine.live
    engine.load([parse_rule({"id": "c", "effect": "close", "times": 1})])
    assert fired(engine, TOKEN, 2) == ["c", None]


def test_injected_rules_leave_when_the_block_ends() -> None:
    engine = FaultEngine([{"id": "keep", "effect": "close", "endpoint": "jwks"}])
    with engine.injected({"effect": "empty"}) as added:
        assert [r.effect.kind for r in added] == ["empty"]
        assert len(engine.rules()) == 2
    assert [r.id for r in engine.rules()] == ["keep"]


def test_needs_form_only_while_a_live_rule_matches_form_fields() -> None:
    engine = FaultEngine([{"effect": "close", "endpoint": "jwks"}])
    assert engine.live and not engine.needs_form
    engine.add({"effect": "close", "client_id": "c1", "times": 1})
    assert engine.needs_form
    engine.decide(TOKEN)
    assert not engine.needs_form


def test_counting_is_exact_under_concurrent_decisions() -> None:
    engine = FaultEngine([{"id": "x", "effect": "close", "times": 500}])
    hits: list[int] = []

    def worker() -> None:
        hits.append(sum(1 for _ in range(300) if engine.decide(TOKEN)))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(hits) == 500
    assert engine.describe()[0]["seen"] == 500


def test_rules_are_frozen_data() -> None:
    rule = parse_rule({"effect": "close"})
    assert isinstance(rule, FaultRule)
    with pytest.raises(AttributeError):
        rule.id = "x"  # type: ignore[misc]
    assert rule.match.endpoint == "any"


def test_tenant_reset_restores_config_faults_with_fresh_counters() -> None:
    config = parse_config(b'[[faults]]\nid = "once"\neffect = "close"\ntimes = 1\n', source="t")
    tenant = Tenant(config, issuer="http://x")
    assert fired(tenant.faults, TOKEN, 2) == ["once", None]
    tenant.faults.add({"id": "extra", "effect": "empty"})
    tenant.reset()
    assert [r.id for r in tenant.faults.rules()] == ["once"]
    assert fired(tenant.faults, TOKEN, 1) == ["once"]
    assert Tenant(default_config(), issuer="http://x").faults.rules() == []


def test_the_bad_token_names_are_the_bad_token_table() -> None:
    from mockauth.faults.rules import BAD_TOKEN_NAMES

    assert tuple(BAD_TOKENS) == BAD_TOKEN_NAMES
