//! Signing keys: one directory of PKCS#8 PEM files per environment, the key ring that
//! picks the active key and publishes the JWKS, scheduled rotation, and compact JWS signing.

mod algorithm;
mod jwk;
mod jwt;
mod key;
mod key_dir;
mod ring;
mod rotation;
mod schedule;

pub use algorithm::{SigningAlg, UnknownAlgorithm};
pub use jwt::sign_jwt;
pub use key::SigningKey;
pub use key_dir::{KeyDir, KeyDirError, StoredKey};
pub use ring::{EnvironmentKeys, KeyRing};
pub use rotation::{RotationPolicy, refresh};
pub use schedule::{KeyState, Schedule, Timeline};
