//! The console's OpenID Connect sign-in against a real OpenID Provider (panva's
//! `oidc-provider`, started by each test; not one written in the test), driven over HTTP
//! by a client that keeps cookies as a browser does: the whole redirect dance, and the
//! refusals of a wrong `state`, a replayed answer and a replayed code, a nonce of another
//! sign-in, and inactive or unknown users. The dance in a real browser is in
//! `tests/browser.rs`. Gated by KEYMINT_TEST_OIDC_PROVIDER (`.ci/run` installs the
//! provider and sets it).

#[path = "../support/mod.rs"]
mod support;

#[path = "../api/app.rs"]
#[allow(dead_code)]
mod app;
#[path = "../api/gateway.rs"]
#[allow(dead_code)]
mod gateway;

mod federation;
mod provider;
mod sign_in;

/// Each test on SQLite and on PostgreSQL, when the provider is installed.
macro_rules! with_provider {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(keymint_oidc), ignore = "set KEYMINT_TEST_OIDC_PROVIDER (.ci/run installs oidc-provider)")]
                async fn $name() {
                    crate::sign_in::$name(crate::support::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(all(keymint_oidc, keymint_pg)), ignore = "set KEYMINT_TEST_OIDC_PROVIDER and KEYMINT_TEST_POSTGRES_URL")]
                async fn $name() {
                    crate::sign_in::$name(crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}

with_provider!(
    the_redirect_dance_signs_a_person_in_once,
    a_state_this_browser_did_not_start_is_refused,
    an_id_token_for_another_sign_in_is_refused,
    inactive_and_unknown_users_are_refused,
    a_public_client_signs_in_with_pkce_alone,
    a_sign_in_started_at_one_instance_finishes_at_another,
    a_flood_of_sign_in_starts_leaves_a_bounded_table,
);

/// Workload identity federation, on SQLite and on PostgreSQL.
mod federation_tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(keymint_oidc),
        ignore = "set KEYMINT_TEST_OIDC_PROVIDER (.ci/run installs oidc-provider)"
    )]
    async fn on_sqlite() {
        crate::federation::an_outside_token_buys_a_token_only_for_the_rule_it_matches(
            crate::support::Backend::Sqlite,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(
        not(all(keymint_oidc, keymint_pg)),
        ignore = "set KEYMINT_TEST_OIDC_PROVIDER and KEYMINT_TEST_POSTGRES_URL"
    )]
    async fn on_postgres() {
        crate::federation::an_outside_token_buys_a_token_only_for_the_rule_it_matches(
            crate::support::Backend::Postgres,
        )
        .await;
    }
}
