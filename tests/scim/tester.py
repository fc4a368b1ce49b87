"""scim2-tester (by Yaal, an independent SCIM 2.0 compliance checker) runs every check it
has against Keymint's Users and Groups: discovery, CRUD, search, PATCH, unknown routes.
Run by tests/scim_client.rs as `python tester.py BASE_URL TOKEN`; prints one line per
check and exits non-zero if any is ERROR or CRITICAL."""

import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

base, token = sys.argv[1], sys.argv[2]
http = httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
scim = SyncSCIMClient(http)
results = check_server(scim, resource_types=["User", "Group"])
failed = 0
for result in results:
    bad = result.status in (Status.ERROR, Status.CRITICAL)
    failed += bad
    print(f"{result.status.name:10} {result.resource_type or '-':6} {result.title}: "
          f"{result.reason or ''}"[:400])
print(f"checks {len(results)}, errors {failed}")
sys.exit(1 if failed else 0)
