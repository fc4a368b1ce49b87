//! The time rules of a client assertion and of an outside token, on Keymint's clock (not
//! the JOSE library's): `exp` required, `nbf`/`iat` not in the future, at most an hour
//! from `iat` to `exp`, with a minute of clock skew.

use serde::Deserialize;
use time::OffsetDateTime;

use crate::oauth::RefusalReason as Refusal;

/// Longest accepted assertion lifetime, `exp - iat`: client libraries such as authlib
/// default to an hour, so a shorter cap would refuse real clients.
const MAX_LIFETIME: time::Duration = time::Duration::hours(1);
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub(super) const LEEWAY: time::Duration = time::Duration::seconds(60);

/// The time claims of an assertion or an outside token.
#[derive(Deserialize)]
pub(super) struct Times {
    pub(super) exp: Option<i64>,
    pub(super) iat: Option<i64>,
    pub(super) nbf: Option<i64>,
}

/// `exp` required and not past, `nbf` and `iat` not in the future, and at most an hour
/// between `iat` (or now, without one) and `exp`. Gives `exp`.
pub(super) fn check_times(claims: &Times, now: OffsetDateTime) -> Result<OffsetDateTime, Refusal> {
    let at = |seconds: i64| OffsetDateTime::from_unix_timestamp(seconds).ok();
    let exp = claims.exp.and_then(at).ok_or(Refusal::AssertionExpired)?;
    if exp + LEEWAY < now {
        return Err(Refusal::AssertionExpired);
    }
    let nbf = claims
        .nbf
        .map(|s| at(s).ok_or(Refusal::AssertionExpired))
        .transpose()?;
    let iat = claims
        .iat
        .map(|s| at(s).ok_or(Refusal::AssertionExpired))
        .transpose()?;
    if nbf.is_some_and(|nbf| nbf > now + LEEWAY) || iat.is_some_and(|iat| iat > now + LEEWAY) {
        return Err(Refusal::AssertionExpired);
    }
    if exp - iat.unwrap_or(now) > MAX_LIFETIME + LEEWAY {
        return Err(Refusal::AssertionLifetime);
    }
    Ok(exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: Option<i64>, iat: Option<i64>, nbf: Option<i64>) -> Times {
        Times { exp, iat, nbf }
    }

    #[test]
    fn times_are_checked_against_our_clock() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t = now.unix_timestamp();
        assert!(check_times(&claims(Some(t + 300), Some(t), None), now).is_ok());
        // authlib's default: an hour.
        assert!(check_times(&claims(Some(t + 3600), Some(t), None), now).is_ok());
        assert_eq!(
            check_times(&claims(Some(t + 7200), Some(t), None), now).err(),
            Some(Refusal::AssertionLifetime)
        );
        assert_eq!(
            check_times(&claims(Some(t + 7200), None, None), now).err(),
            Some(Refusal::AssertionLifetime)
        );
        assert_eq!(
            check_times(&claims(None, Some(t), None), now).err(),
            Some(Refusal::AssertionExpired)
        );
        assert_eq!(
            check_times(&claims(Some(t - 120), Some(t - 400), None), now).err(),
            Some(Refusal::AssertionExpired)
        );
        assert!(
            check_times(&claims(Some(t - 30), Some(t - 300), None), now).is_ok(),
            "skew"
        );
        assert_eq!(
            check_times(&claims(Some(t + 600), Some(t), Some(t + 300)), now).err(),
            Some(Refusal::AssertionExpired)
        );
    }
}
