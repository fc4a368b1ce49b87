//! `DATABASE_URL`: reads as the URL, shows in `Debug` without its password.

/// `DATABASE_URL`. Reads as the URL (`&str`); `Debug` hides its password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub(super) String);

impl std::ops::Deref for DatabaseUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for DatabaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // scheme://user:password@host/... -> scheme://user:***@host/...
        let shown = match self.0.split_once("://") {
            Some((scheme, rest)) => match rest.split_once('@') {
                Some((userinfo, host)) if userinfo.contains(':') => {
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!("{scheme}://{user}:***@{host}")
                }
                _ => self.0.clone(),
            },
            None => self.0.clone(),
        };
        f.debug_tuple("DatabaseUrl").field(&shown).finish()
    }
}
