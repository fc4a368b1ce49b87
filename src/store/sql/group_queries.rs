//! SQL text of SCIM groups, their members and the group mapping (see `groups.rs`).

macro_rules! group_columns {
    () => {
        "id, display_name, resource, version, created_at, updated_at"
    };
}

pub const GROUP: &str = concat!(
    "SELECT ",
    group_columns!(),
    " FROM scim_groups WHERE id = $1"
);

/// The version, name and attributes of a group, to lock it for a replace.
pub const GROUP_VERSION: &str =
    "SELECT version, display_name, resource FROM scim_groups WHERE id = $1";

pub const INSERT_GROUP: &str = concat!(
    "INSERT INTO scim_groups (id, display_name, display_name_key, external_id, resource, \
     version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $6) RETURNING ",
    group_columns!()
);

pub const UPDATE_GROUP: &str = concat!(
    "UPDATE scim_groups SET display_name = $2, display_name_key = $3, external_id = $4, \
     resource = $5, version = version + 1, updated_at = $6 WHERE id = $1 RETURNING ",
    group_columns!()
);

pub const DELETE_GROUP: &str = "DELETE FROM scim_groups WHERE id = $1";

/// `GET /Groups`: `{condition}` from the SCIM filter translation (placeholders from `$3`);
/// `$1` limit, `$2` offset.
pub const LIST_GROUPS: &str = concat!(
    "SELECT ",
    group_columns!(),
    " FROM scim_groups WHERE {condition} ORDER BY id LIMIT $1 OFFSET $2"
);

/// The count of the same condition; `$1` and `$2` are unused (0) so placeholders match.
pub const COUNT_GROUPS: &str =
    "SELECT COUNT(*) FROM scim_groups WHERE {condition} AND $1 = 0 AND $2 = 0";

pub const MEMBERS: &str =
    "SELECT user_id FROM scim_group_members WHERE group_id = $1 ORDER BY user_id";

pub const ADD_MEMBER: &str = "INSERT INTO scim_group_members (group_id, user_id) \
     VALUES ($1, $2) ON CONFLICT DO NOTHING";

pub const REMOVE_MEMBER: &str =
    "DELETE FROM scim_group_members WHERE group_id = $1 AND user_id = $2";

/// The groups of a user, by name (a SCIM user's delete takes it out of each).
pub const GROUPS_OF_USER: &str = "SELECT g.display_name FROM scim_group_members m \
     JOIN scim_groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.display_name";

pub const LEAVE_ALL_GROUPS: &str = "DELETE FROM scim_group_members WHERE user_id = $1";

/// True when a group name (lowercased) has a mapping.
pub const IS_MAPPED: &str = "SELECT COUNT(*) FROM group_permissions WHERE name_key = $1";

/// The mapped permissions of every group of a user.
pub const PERMISSIONS_OF_GROUPS: &str = "SELECT gp.permissions FROM scim_group_members m \
     JOIN scim_groups g ON g.id = m.group_id \
     JOIN group_permissions gp ON gp.name_key = g.display_name_key WHERE m.user_id = $1";

/// Writes a user's recomputed group permissions when they differ.
pub const SET_GROUP_PERMISSIONS_OF_USER: &str = "UPDATE users SET group_permissions = $2, \
     updated_at = $3 WHERE id = $1 AND group_permissions <> $2";

/// Members of the groups with a name (lowercased).
pub const MEMBERS_OF_NAME: &str = "SELECT DISTINCT m.user_id FROM scim_group_members m \
     JOIN scim_groups g ON g.id = m.group_id WHERE g.display_name_key = $1 ORDER BY m.user_id";

pub const UPSERT_MAPPING: &str = "INSERT INTO group_permissions (name_key, name, permissions, \
     updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name_key) DO UPDATE SET \
     name = excluded.name, permissions = excluded.permissions, updated_at = excluded.updated_at";

pub const DELETE_MAPPING: &str = "DELETE FROM group_permissions WHERE name_key = $1";

pub const MAPPINGS: &str =
    "SELECT name, permissions, updated_at FROM group_permissions ORDER BY name_key";

/// The ids among `$1..` that are Keymint users (`{placeholders}`: `$1, $2, ...`).
pub const EXISTING_USERS: &str = "SELECT id FROM users WHERE id IN ({placeholders})";
