//! `keymint config check`: the effective configuration, secrets left out, and what is
//! wrong with it (an invalid variable, an unreachable database).

use std::time::Duration;

use crate::config::Config;

/// Prints the configuration `serve` would run with; fails naming what is wrong.
pub async fn run() -> anyhow::Result<()> {
    let config =
        Config::from_env().map_err(|e| anyhow::anyhow!("configuration is not valid: {e}"))?;
    let set_names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    for warning in unknown_variables(&set_names) {
        println!("warning: {warning}");
    }
    let set = |v: bool| if v { "set (not shown)" } else { "unset" };
    // The URL's password is replaced by ***.
    let database = format!("{:?}", config.database_url);
    let database = database
        .strip_prefix("DatabaseUrl(\"")
        .and_then(|d| d.strip_suffix("\")"))
        .unwrap_or(&database)
        .to_owned();
    println!("DATABASE_URL                       {database}");
    println!("KEYMINT_LISTEN                     {}", config.listen);
    println!("KEYMINT_PUBLIC_URL                 {}", config.public_url);
    for env in &config.environments {
        println!(
            "environment {:<22} {} (issuer {}, audiences {})",
            env.name.as_str(),
            env.alg,
            config.issuer(&env.name),
            config.audiences(&env.name).join(", ")
        );
    }
    println!(
        "KEYMINT_KEYS_DIR                   {}",
        config.keys_dir.display()
    );
    println!(
        "KEYMINT_ENCRYPTION_KEYS            {}",
        config.encryption_keys.as_ref().map_or_else(
            || format!(
                "unset: {} (generated on first start)",
                config.keys_dir.join("encryption-keys").display()
            ),
            |keys| format!("set, sealing under {}", keys.sealing_id())
        )
    );
    println!(
        "KEYMINT_TOKEN_TTL                  {} s",
        config.token_ttl.as_secs()
    );
    println!(
        "KEYMINT_SIGNING_KEY_PUBLISH_DELAY  {} s",
        config.signing_publish_delay.as_secs()
    );
    println!(
        "KEYMINT_SIGNING_KEY_ROTATE_DAYS    {}",
        config
            .signing_rotate_days
            .map_or("unset (manual)".to_owned(), |d| d.to_string())
    );
    println!(
        "KEYMINT_WEBHOOK_SECRET             {}",
        set(config.webhook_secret.is_some())
    );
    match &config.user_tokens {
        Some(u) => println!(
            "session tokens                     issuer {}, JWKS {}, audience {}",
            u.issuer, u.jwks_url, u.audience
        ),
        None => println!("session tokens                     off"),
    }
    println!(
        "KEYMINT_SCIM_TOKEN                 {}",
        if config.scim_token.is_some() {
            format!("set (not shown): SCIM 2.0 at {}/scim/v2", config.public_url)
        } else {
            "unset (SCIM off)".to_owned()
        }
    );
    match &config.console_oidc {
        Some(oidc) => println!(
            "console sign-in                    one-time links and OpenID Connect ({}, client {}, {})",
            oidc.issuer,
            oidc.client_id,
            if oidc.client_secret.is_some() {
                "client secret set (not shown)"
            } else {
                "public client, PKCE"
            }
        ),
        None => {
            println!("console sign-in                    one-time links (keymint console link)")
        }
    }
    match &config.tls {
        Some(t) => println!(
            "HTTPS                              {} and {}",
            t.cert.display(),
            t.key.display()
        ),
        None if config.behind_tls_proxy => {
            println!("HTTPS                              by a proxy in front")
        }
        None => println!("HTTPS                              off (plain HTTP on loopback)"),
    }
    println!(
        "KEYMINT_TRUSTED_PROXIES            {}",
        config.trusted_proxies
    );
    println!(
        "KEYMINT_OUTBOUND_HOSTS             {}",
        config.outbound_hosts
    );
    if let Some(address) = config.metrics_listen {
        println!("KEYMINT_METRICS_LISTEN             {address}");
    }
    println!(
        "KEYMINT_MAX_STALENESS              {} s",
        config.max_staleness.as_secs()
    );
    let perf = &config.performance;
    println!(
        "performance                        cache {} entries for {} s, {} argon2 threads, \
         queue wait {} ms, header timeout {} s, {} connections, quota {}",
        perf.cache_capacity,
        perf.cache_ttl.as_secs(),
        perf.hash_threads,
        perf.hash_max_wait.as_millis(),
        perf.header_timeout.as_secs(),
        perf.max_connections,
        perf.token_rate_limit
            .map_or("none".to_owned(), |n| format!("{n} tokens/min per key"))
    );
    let reachable = tokio::time::timeout(
        Duration::from_secs(5),
        crate::store::connect(&config.database_url),
    )
    .await;
    match reachable {
        Ok(Ok(store)) => match store.ping().await {
            Ok(()) => {
                println!("database                           reachable");
                warn_of_other_public_urls(store.as_ref(), &config.public_url).await;
            }
            Err(e) => anyhow::bail!("the database does not answer: {e}"),
        },
        Ok(Err(e)) => anyhow::bail!("cannot connect to the database: {e}"),
        Err(_) => anyhow::bail!("cannot connect to the database: no answer within 5 s"),
    }
    println!("configuration is valid");
    Ok(())
}

/// `KEYMINT_*` variables Keymint does not read (a typo is otherwise silently ignored),
/// each with the known name it most resembles.
fn unknown_variables(set: &[String]) -> Vec<String> {
    use crate::config::table::{VARIABLES, is_known};
    let mut unknown: Vec<String> = set
        .iter()
        .filter(|n| n.starts_with("KEYMINT_") && !n.starts_with("KEYMINT_TEST_") && !is_known(n))
        .map(|name| {
            let nearest = VARIABLES
                .iter()
                .flat_map(|v| v.names.iter())
                .map(|known| (distance(name, known), *known))
                .min()
                .filter(|(d, _)| *d <= 3);
            match nearest {
                Some((_, known)) => {
                    format!(
                        "{name} is not a Keymint variable and is ignored; did you mean {known}?"
                    )
                }
                None => format!("{name} is not a Keymint variable and is ignored"),
            }
        })
        .collect();
    unknown.sort();
    unknown
}

/// Edit distance between two short names (Levenshtein; names are under 64 bytes).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Instances on one database must serve one public URL; says so when the running ones
/// serve another than this configuration's (reading only: a check records nothing).
async fn warn_of_other_public_urls(store: &dyn crate::store::Store, public_url: &str) {
    let since =
        crate::clock::Clock::now(&crate::clock::SystemClock) - crate::sync::public_url::WINDOW;
    // Before the first `serve` the table may not exist yet: nothing to compare.
    let Ok(served) = store.public_urls(since).await else {
        return;
    };
    let others: Vec<&str> = served
        .iter()
        .map(String::as_str)
        .filter(|url| *url != public_url)
        .collect();
    if !others.is_empty() {
        println!(
            "warning: running instances on this database serve {} as their public URL, \
             this configuration {public_url}: tokens minted at one are refused at the others; \
             give every instance the same KEYMINT_PUBLIC_URL",
            others.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_named_with_the_variable_meant() {
        let set = [
            "KEYMINT_ENVIRONMENT".to_owned(),
            "KEYMINT_LISTEN".to_owned(),
            "KEYMINT_TEST_POSTGRES_URL".to_owned(),
            "KEYMINT_WHATEVER_ELSE_ENTIRELY".to_owned(),
            "PATH".to_owned(),
        ];
        assert_eq!(
            unknown_variables(&set),
            vec![
                "KEYMINT_ENVIRONMENT is not a Keymint variable and is ignored; did you mean KEYMINT_ENVIRONMENTS?",
                "KEYMINT_WHATEVER_ELSE_ENTIRELY is not a Keymint variable and is ignored",
            ]
        );
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
