//! One store behaviour suite, stamped for SQLite and PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod suite;

support::both_backends!(store suite:
    upsert_creates_active_users_and_updates_profiles,
    unknown_users_and_keys_are_not_found,
    keys_freeze_the_owners_permissions,
    keys_narrow_to_held_permissions_only,
    inactive_owners_cannot_get_keys,
    every_update_changes_the_etag,
    stale_etags_conflict_and_change_nothing,
    concurrent_updates_with_one_etag_have_one_winner,
    enabling_requires_an_active_owner,
    delete_removes_the_key,
    deactivation_disables_all_keys_in_every_environment,
    deactivation_and_key_creation_never_leave_an_enabled_key_for_an_inactive_user,
    listing_pages_in_creation_order_with_owner_filter,
    credentials_carry_hash_and_owner_state,
    webhook_ids_apply_once,
    directory_events_about_unknown_users_are_remembered,
    every_change_appends_to_the_change_feed,
    a_grace_period_keeps_the_previous_secret_until_it_ends,
    one_update_can_disable_and_regenerate_atomically,
    expired_keys_are_disabled_and_audited,
    last_use_is_recorded_without_changing_the_key,
    check_tags_travel_with_their_secrets,
    directory_events_of_a_user_apply_in_emission_order,
);
