"""authlib (Python) as a private_key_jwt client of Keymint, as its documentation shows it.

    keygen PEM_PATH                          make the client's RSA key (it never leaves
                                             the client); print its public JWKS
    token PEM_PATH TOKEN_URL CLIENT_ID KID   get a token with client_credentials; print it

authlib signs the assertion itself (iss = sub = client id, aud = the token endpoint, a
fresh jti, exp an hour out by default).
"""

import json
import sys
import warnings

warnings.simplefilter("ignore")  # authlib.jose announces its successor on import

from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import RSAKey  # noqa: E402
from authlib.oauth2.rfc7523 import PrivateKeyJWT  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402


def keygen(path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open(path, "wb") as f:
        f.write(pem)
    jwk = RSAKey.import_key(pem)
    public = jwk.as_dict(is_private=False)
    public["kid"] = jwk.thumbprint()
    print(json.dumps({"keys": [public]}))


def token(path, token_url, client_id, kid):
    with open(path) as f:
        pem = f.read()
    session = OAuth2Session(client_id, pem, token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(token_url, headers={"kid": kid}))
    print(json.dumps(session.fetch_token(token_url, grant_type="client_credentials")))


if __name__ == "__main__":
    {"keygen": keygen, "token": token}[sys.argv[1]](*sys.argv[2:])
