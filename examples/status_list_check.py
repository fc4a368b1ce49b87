"""Validate a Keymint access token offline, status list included: a starting point for
gateways without a status-list reader (an NGINX `auth_request` service, a Lambda
authorizer, a sidecar). Needs `pip install joserfc requests`.

    python3 status_list_check.py ISSUER AUDIENCE TOKEN

Prints the token's claims and exits 0 when it is valid and its key's bit is 0; prints
why and exits 1 otherwise. `check()` is the part to keep; `LISTS` caches each list for its
`ttl` (draft-ietf-oauth-status-list §13.1), so a long-running service fetches a list at
most once a `ttl`, not per request. Fail closed: a list that cannot be fetched refuses.
"""

import base64
import json
import sys
import time
import zlib

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

ALGORITHMS = ["ES256", "RS256", "EdDSA"]
LISTS = {}  # uri -> (bytes, fetched_at, ttl)


def keys(issuer):
    return KeySet.import_key_set(requests.get(f"{issuer}/.well-known/jwks.json", timeout=5).json())


def verified(token, key_set, typ, issuer):
    decoded = jwt.decode(token, key_set, algorithms=ALGORITHMS)
    if decoded.header.get("typ") != typ:
        raise ValueError(f"typ is not {typ}")
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}, exp={"essential": True}).validate(decoded.claims)
    return decoded.claims


def status_bits(uri, key_set, issuer):
    cached = LISTS.get(uri)
    if cached and time.time() < cached[1] + cached[2]:
        return cached[0]
    response = requests.get(uri, headers={"Accept": "application/statuslist+jwt"}, timeout=5)
    response.raise_for_status()
    claims = verified(response.text.strip(), key_set, "statuslist+jwt", issuer)
    if claims["sub"] != uri or claims["status_list"]["bits"] != 1:
        raise ValueError("not the list the token names")
    lst = claims["status_list"]["lst"]
    bits = zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
    LISTS[uri] = (bits, time.time(), min(int(claims.get("ttl", 60)), 3600))
    return bits


def check(issuer, audience, token):
    """The token's claims if it is valid now; raises ValueError saying why not."""
    key_set = keys(issuer)
    claims = verified(token, key_set, "at+jwt", issuer)
    aud = claims.get("aud")
    if audience not in (aud if isinstance(aud, list) else [aud]):
        raise ValueError("not for this audience")
    reference = claims.get("status", {}).get("status_list")
    if reference:
        if not reference["uri"].startswith(f"{issuer}/statuslists/"):
            raise ValueError("status list outside the issuer")
        bits, idx = status_bits(reference["uri"], key_set, issuer), reference["idx"]
        if idx // 8 >= len(bits):
            raise ValueError("status index outside its list")
        if bits[idx // 8] >> (idx % 8) & 1:
            raise ValueError("its key can no longer mint tokens (status list)")
    return claims


if __name__ == "__main__":
    try:
        print(json.dumps(check(*sys.argv[1:4])))
    except Exception as error:  # noqa: BLE001 - a gateway refuses on any failure
        print(f"refused: {error}")
        sys.exit(1)
