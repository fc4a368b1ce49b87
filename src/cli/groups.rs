//! `keymint groups list|set-permissions`: the permissions members of a directory group
//! hold. A mapping is by group name (SCIM `displayName`, case-insensitive), so it can be
//! set before the directory pushes the group.

use clap::Subcommand;
use serde_json::json;

use crate::clock::rfc3339;
use crate::domain::Permissions;
use crate::manage::Management;
use crate::store::{GroupMapping, ScimGroupRecord, ScimQuery};

#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// The group mappings, and the groups the directory pushed with their member counts.
    List {
        /// Print JSON (`{"mappings": [...], "groups": [...]}`).
        #[arg(long)]
        json: bool,
    },
    /// Set what members of GROUP hold now (their keys keep their frozen permissions).
    #[command(name = "set-permissions")]
    SetPermissions {
        /// The group's name (SCIM displayName), matched case-insensitively.
        group: String,
        /// A permission members hold (repeat for several).
        #[arg(
            long = "permission",
            value_name = "P",
            required_unless_present = "none"
        )]
        permissions: Vec<String>,
        /// Remove the mapping: members hold nothing through this group.
        #[arg(long, conflicts_with = "permissions")]
        none: bool,
    },
}

pub async fn run(cmd: GroupsCommand, manage: &Management) -> anyhow::Result<()> {
    match cmd {
        GroupsCommand::SetPermissions {
            group,
            permissions,
            none: _,
        } => {
            let permissions = Permissions::parse(&permissions)?;
            for (given, meant) in permissions.near_misses() {
                eprintln!(
                    "warning: permission {given:?} is not {meant:?}: Keymint matches permissions \
                     exactly, so it will not act on {given:?} (see docs/reference.md)"
                );
            }
            let changed = manage.set_group_permissions(&group, &permissions).await?;
            if permissions.is_empty() {
                println!("group {group:?}: mapping removed; {changed} user(s) changed");
            } else {
                println!(
                    "group {group:?}: members hold [{permissions}]; {changed} user(s) changed"
                );
            }
        }
        GroupsCommand::List { json } => {
            let mappings = manage.group_mappings().await?;
            let groups = pushed_groups(manage).await?;
            if json {
                let mappings: Vec<_> = mappings.iter().map(mapping_json).collect();
                let groups: Vec<_> = groups
                    .iter()
                    .map(|g| json!({"id": g.id, "displayName": g.display_name, "members": g.members.len()}))
                    .collect();
                println!("{}", json!({"mappings": mappings, "groups": groups}));
            } else {
                println!("{:<32} {:<20} permissions", "mapping", "updated");
                for m in &mappings {
                    println!(
                        "{:<32} {:<20} [{}]",
                        m.name,
                        rfc3339(m.updated_at),
                        m.permissions
                    );
                }
                println!("{} mapping(s)\n", mappings.len());
                println!("{:<32} {:<24} {:<8} mapped", "group", "id", "members");
                for g in &groups {
                    let mapped = mappings
                        .iter()
                        .any(|m| m.name.to_lowercase() == g.display_name.to_lowercase());
                    println!(
                        "{:<32} {:<24} {:<8} {}",
                        g.display_name,
                        g.id,
                        g.members.len(),
                        if mapped { "yes" } else { "no" }
                    );
                }
                println!("{} group(s) pushed by the directory", groups.len());
            }
        }
    }
    Ok(())
}

fn mapping_json(m: &GroupMapping) -> serde_json::Value {
    json!({
        "name": m.name,
        "permissions": m.permissions.iter().collect::<Vec<_>>(),
        "updatedAt": rfc3339(m.updated_at),
    })
}

/// Every SCIM group, with its members.
async fn pushed_groups(manage: &Management) -> anyhow::Result<Vec<ScimGroupRecord>> {
    let mut groups = Vec::new();
    loop {
        let query = ScimQuery {
            offset: i64::try_from(groups.len())?,
            limit: 100,
            ..ScimQuery::default()
        };
        let (page, total) = manage.store().scim_groups(&query, true).await?;
        let done = page.is_empty();
        groups.extend(page);
        if done || i64::try_from(groups.len())? >= total {
            return Ok(groups);
        }
    }
}
