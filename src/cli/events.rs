//! `keymint events list [--set-aside] [--json]`: the outbox of lifecycle events (waiting,
//! retrying, set aside after their 24-hour window, with the last error);
//! `keymint events retry (ID | --all)`: makes set-aside events due again, with a new
//! window.

use clap::Subcommand;
use serde_json::json;

use crate::clock::{Clock, SystemClock, rfc3339};
use crate::manage::Management;

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// List lifecycle events not delivered yet, oldest first (delivered ones are gone).
    List {
        /// Only the events set aside after 24 hours of failed deliveries.
        #[arg(long)]
        set_aside: bool,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliver set-aside events again (each retried for another 24 hours).
    Retry {
        /// The event's id (`evt_...`).
        #[arg(conflicts_with = "all", required_unless_present = "all")]
        id: Option<String>,
        /// Every set-aside event.
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(cmd: EventsCommand, manage: &Management) -> anyhow::Result<()> {
    let store = manage.store();
    match cmd {
        EventsCommand::List {
            set_aside,
            limit,
            json,
        } => {
            let events = store.list_events(set_aside, limit).await?;
            if json {
                let out: Vec<_> = events
                    .iter()
                    .map(|e| {
                        json!({
                            "id": e.id,
                            "type": e.kind,
                            "subject": e.subject,
                            "createdAt": rfc3339(e.created_at),
                            "state": if e.set_aside { "set_aside" } else { "pending" },
                            "attempts": e.attempts,
                            "nextAttemptAt": rfc3339(e.next_attempt_at),
                            "lastError": e.last_error,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::from(out));
                return Ok(());
            }
            for e in &events {
                let state = if e.set_aside { "set aside" } else { "pending" };
                println!(
                    "{}  {:<18} {:<28} {:<9} attempts {:<3} {}",
                    e.id,
                    e.kind,
                    e.subject,
                    state,
                    e.attempts,
                    e.last_error.as_deref().unwrap_or("")
                );
            }
            let outbox = store.outbox_state().await?;
            println!("{} pending, {} set aside", outbox.pending, outbox.set_aside);
            Ok(())
        }
        EventsCommand::Retry { id, all: _ } => {
            let now = SystemClock.now();
            let count = store.retry_events(id.as_deref(), now).await?;
            match (id, count) {
                (Some(id), 0) => anyhow::bail!("no set-aside event {id}"),
                (_, n) => println!("{n} event(s) due again"),
            }
            Ok(())
        }
    }
}
