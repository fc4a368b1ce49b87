"""An independent SCIM client (scim2-client, by Yaal) drives Keymint's Users and Groups
resources end to end: discovery, create, filter, get, replace, patch, delete. Run by
tests/scim_client.rs as `python client.py BASE_URL TOKEN`; prints one line per step, exits
non-zero on failure."""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    Email, Group, GroupMember, PatchOp, PatchOperation, Role, SearchRequest, User,
)

base, token = sys.argv[1], sys.argv[2]
http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
scim = SyncSCIMClient(http)
scim.discover()
print("discovered", [t.id for t in scim.provider.resource_types] if hasattr(scim, "provider") else "")

created = scim.create(User(
    user_name="grace@example.com",
    external_id="dir-grace",
    display_name="Grace",
    emails=[Email(value="grace@example.com", primary=True)],
    roles=[Role(value="runs:read")],
    active=True,
))
assert created.id == "dir-grace", created.id
assert created.user_name == "grace@example.com"
print("created", created.id)

found = scim.query(User, query_parameters=SearchRequest(filter='userName eq "GRACE@example.com"'))
assert found.total_results == 1, found
assert found.resources[0].id == "dir-grace"
print("filtered", found.total_results)

fetched = scim.query(User, "dir-grace")
assert fetched.display_name == "Grace"
print("fetched", fetched.id)

fetched.display_name = "Grace H."
fetched.roles = [{"value": "runs:read"}, {"value": "runs:write"}]
replaced = scim.replace(fetched)
assert replaced.display_name == "Grace H."
assert sorted(r.value for r in replaced.roles) == ["runs:read", "runs:write"]
print("replaced", replaced.meta.version)

hal = scim.create(User(user_name="hal@example.com", external_id="dir-hal"))
group = scim.create(Group(display_name="Automation", members=[GroupMember(value="dir-grace")]))
assert [m.value for m in group.members] == ["dir-grace"], group
print("group created", group.id)

found = scim.query(Group, query_parameters=SearchRequest(filter='displayName eq "automation"'))
assert found.total_results == 1 and found.resources[0].id == group.id, found
print("group filtered", found.total_results)

members = PatchOp[Group](operations=[
    PatchOperation(op="add", path="members", value=[{"value": "dir-hal"}]),
    PatchOperation(op="remove", path='members[value eq "dir-grace"]'),
])
scim.modify(Group, group.id, members)
fetched_group = scim.query(Group, group.id)
assert [m.value for m in fetched_group.members] == ["dir-hal"], fetched_group
print("group patched", fetched_group.meta.version)

fetched_group.members = [{"value": "dir-grace"}, {"value": "dir-hal"}]
replaced_group = scim.replace(fetched_group)
assert sorted(m.value for m in replaced_group.members) == ["dir-grace", "dir-hal"], replaced_group
scim.modify(Group, group.id, PatchOp[Group](operations=[
    PatchOperation(op="remove", path='members[value eq "dir-grace"]'),
]))
print("group replaced")

patch = PatchOp[User](operations=[PatchOperation(op="replace", path="active", value=False)])
patched = scim.modify(User, "dir-grace", patch)
assert patched is None or patched.active is False, patched
again = scim.query(User, "dir-grace")
assert again.active is False
print("deactivated", again.active)

scim.delete(User, "dir-grace")
gone = scim.query(User, "dir-grace", raise_scim_errors=False)
assert getattr(gone, "status", None) in (404, "404"), gone
print("deleted")
