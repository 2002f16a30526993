"""Roles through the Management API: a renamed or deleted role reaches whatever names it by key."""

from __future__ import annotations

from tests.management.kit import ORG, bearer, make


def test_renaming_or_deleting_a_role_reaches_the_invitations_that_name_it() -> None:
    tenant, client = make()
    headers = bearer(tenant)
    api = "/api/v1"
    role = client.post(api + "/roles", json={"key": "crew", "name": "Crew"}, headers=headers)
    role_id = role.json()["role"]["id"]
    invites = f"{api}/organization/{ORG}/invites"
    sent = client.post(
        invites, json={"email": "sam@example.com", "roles": ["crew"]}, headers=headers
    )
    code = sent.json()["invite"]["code"]

    def roles_invited() -> list[str]:
        found = client.get(f"{invites}/{code}", headers=headers)
        assert found.status_code == 200, found.text
        return [role["key"] for role in found.json()["roles"]]

    renamed = client.patch(
        f"{api}/roles/{role_id}", json={"key": "sailors", "name": "Crew"}, headers=headers
    )
    assert renamed.status_code == 201, renamed.text
    assert roles_invited() == ["sailors"]
    assert client.delete(f"{api}/roles/{role_id}", headers=headers).status_code == 200
    assert roles_invited() == []
    tenant.close()
