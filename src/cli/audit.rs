//! `keymint audit --env E [--json]`: the newest `--limit` entries of the audit trail,
//! printed oldest first, saying when older ones were left out.

use clap::Args;
use serde_json::json;

use super::served_environment;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::manage::Management;
use crate::store::AuditQuery;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Environment (user-level entries, such as deactivations, are included).
    #[arg(long)]
    env: String,
    /// Only entries about this key.
    #[arg(long)]
    client_id: Option<String>,
    /// Only entries about this user.
    #[arg(long)]
    user: Option<String>,
    /// Show the newest this many entries (printed oldest first); older ones are left
    /// out, and the output says so.
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    /// Print JSON (an array).
    #[arg(long)]
    json: bool,
}

pub async fn run(args: AuditArgs, config: &Config, manage: &Management) -> anyhow::Result<()> {
    let environment = served_environment(config, &args.env)?;
    let mut entries = Vec::new();
    let mut after = None;
    let mut cut = false;
    while entries.len() < args.limit as usize {
        let query = AuditQuery {
            environment: Some(environment.to_string()),
            client_id: args.client_id.clone(),
            user_id: args.user.clone(),
            after,
            limit: (args.limit as usize - entries.len()).min(500) as u32,
            newest_first: true,
        };
        let (page, more) = manage.store().list_audit(&query).await?;
        after = page.last().map(|e| e.seq);
        entries.extend(page);
        cut = more;
        if !more {
            break;
        }
    }
    entries.reverse();
    if cut {
        // On stderr, so that --json output stays one JSON document.
        eprintln!(
            "showing the newest {} entries; older ones were left out (raise --limit to see them)",
            entries.len()
        );
    }
    if args.json {
        let out: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({
                    "at": rfc3339(e.at), "action": e.action, "environment": e.environment,
                    "clientId": e.client_id, "userId": e.user_id, "actorUserId": e.actor_user_id,
                    "actorClientId": e.actor_client_id, "operator": e.operator, "source": e.source,
                    "requestId": e.request_id, "reason": e.reason, "target": e.target,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(out));
    } else {
        for e in &entries {
            let actor = match (&e.actor_user_id, &e.actor_client_id, &e.operator) {
                (Some(u), Some(c), _) => format!("{u} via {c}"),
                (Some(u), None, _) => u.clone(),
                (None, _, Some(operator)) => operator.clone(),
                _ => "-".to_owned(),
            };
            let extra = |name: &str, value: &Option<String>| {
                value
                    .as_deref()
                    .map(|v| format!(" {name}={v}"))
                    .unwrap_or_default()
            };
            println!(
                "{}  {:<22} key={} user={} by={} ({}){}{}",
                rfc3339(e.at),
                e.action,
                e.client_id.as_deref().unwrap_or("-"),
                e.user_id.as_deref().unwrap_or("-"),
                actor,
                e.source,
                extra("target", &e.target),
                extra("reason", &e.reason),
            );
        }
        println!(
            "{} entr{}",
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" }
        );
    }
    Ok(())
}
