//! Signing keys: stored sealed in the database (`encryption.rs`: the encryption keys and
//! AES-256-GCM), opened into the key ring that picks the active key and publishes the JWKS
//! (`ring.rs`), started up, imported from earlier versions' files and created once
//! (`bootstrap.rs`, `legacy.rs`), rotated on a schedule (`rotation.rs`, `schedule.rs`),
//! and used for compact JWS signing.

mod algorithm;
mod bootstrap;
mod encryption;
mod jwk;
mod jwt;
mod key;
mod legacy;
mod ring;
mod rotation;
mod schedule;

pub use algorithm::{SigningAlg, UnknownAlgorithm};
pub use bootstrap::{encryption_keys, start};
pub use encryption::{EncryptionKeys, InvalidKeys, KeyLabel, OpenError, Sealed};
pub use jwt::{sign_encoded, sign_jwt, sign_typed_jwt};
pub use key::SigningKey;
pub use legacy::KeyFileError;
pub use ring::{
    EnvironmentKeys, KeyRing, SigningKeyError, open_record, reseal_record, seal_record,
};
pub use rotation::{RotationPolicy, rotate_due};
pub use schedule::{KeyState, Schedule, Timeline};
