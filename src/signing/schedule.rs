//! Rotation without breaking a validator: when each key is published, signs, and drops out.
//!
//! Keys are ordered by creation. A key is published as soon as its file exists, but signs
//! only once `publish_delay` has passed (validators caching the JWKS for up to that long
//! have seen it by then); the very first key of an environment signs at once. The newest
//! key that may sign is *active*; newer ones are *next*. An older key stays published
//! (*retiring*) until every token it signed has expired — `token_ttl` after its successor
//! took over — and is then *retired* (no longer published).

use std::fmt;
use std::time::Duration;
use time::OffsetDateTime;

/// State of a key at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet.
    Next,
    /// Signs new tokens.
    Active,
    /// Published so tokens it signed keep validating; signs nothing.
    Retiring,
    /// No longer published.
    Retired,
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Next => "next",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        })
    }
}

/// The timing rules.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// How long a new key is published before it signs (the JWKS cache lifetime).
    pub publish_delay: Duration,
    /// Longest token lifetime: how long a replaced key stays published.
    pub token_ttl: Duration,
}

/// When a key changes state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeline {
    /// State now.
    pub state: KeyState,
    /// When it signs (or signed) first.
    pub activates_at: OffsetDateTime,
    /// When it stops being published (known once a successor exists).
    pub retires_at: Option<OffsetDateTime>,
}

impl Schedule {
    /// The timelines of keys created at `created` (sorted, oldest first) at `now`.
    pub fn classify(&self, created: &[OffsetDateTime], now: OffsetDateTime) -> Vec<Timeline> {
        let delay = time::Duration::try_from(self.publish_delay).unwrap_or(time::Duration::ZERO);
        let ttl = time::Duration::try_from(self.token_ttl).unwrap_or(time::Duration::ZERO);
        let activation: Vec<OffsetDateTime> = created
            .iter()
            .enumerate()
            .map(|(i, c)| if i == 0 { *c } else { *c + delay })
            .collect();
        // The newest key whose activation time has come; the oldest if none has.
        let active = activation.iter().rposition(|a| *a <= now).unwrap_or(0);
        activation
            .iter()
            .enumerate()
            .map(|(i, activates_at)| {
                // Planned as soon as a successor exists: its activation plus a token lifetime.
                let retires_at = activation.get(i + 1).map(|s| *s + ttl);
                let state = match i {
                    i if i == active => KeyState::Active,
                    i if i > active => KeyState::Next,
                    _ if retires_at.is_some_and(|r| now < r) => KeyState::Retiring,
                    _ => KeyState::Retired,
                };
                Timeline {
                    state,
                    activates_at: *activates_at,
                    retires_at,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_publishes_first_signs_later_and_retires_after_the_token_lifetime() {
        let schedule = Schedule {
            publish_delay: Duration::from_secs(300),
            token_ttl: Duration::from_secs(600),
        };
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t1 = t0 + time::Duration::hours(1); // rotation
        let created = [t0, t1];
        let states = |now| {
            schedule
                .classify(&created, now)
                .iter()
                .map(|t| t.state)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            schedule.classify(&[t0], t0)[0].state,
            KeyState::Active,
            "the first key signs at once"
        );
        assert_eq!(states(t1), [KeyState::Active, KeyState::Next]);
        assert_eq!(
            states(t1 + time::Duration::seconds(299)),
            [KeyState::Active, KeyState::Next]
        );
        assert_eq!(
            states(t1 + time::Duration::seconds(300)),
            [KeyState::Retiring, KeyState::Active]
        );
        assert_eq!(
            states(t1 + time::Duration::seconds(899)),
            [KeyState::Retiring, KeyState::Active]
        );
        assert_eq!(
            states(t1 + time::Duration::seconds(900)),
            [KeyState::Retired, KeyState::Active]
        );
        let timeline = schedule.classify(&created, t1);
        assert_eq!(timeline[1].activates_at, t1 + time::Duration::seconds(300));
        assert_eq!(
            timeline[0].retires_at,
            Some(t1 + time::Duration::seconds(900))
        );
    }
}
