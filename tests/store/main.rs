//! The store behaviour suite, stamped for SQLite and PostgreSQL, one file per story.

#[path = "../support/mod.rs"]
mod support;

mod assertions;
mod feed;
mod fixtures;
mod keys;
mod secrets;
mod signing_keys;
mod status_indexes;
mod users;

mod users_tests {
    crate::support::both_backends!(store users:
        upsert_creates_active_users_and_updates_profiles,
        unknown_users_and_keys_are_not_found,
        deactivation_disables_all_keys_in_every_environment,
        deactivation_and_key_creation_never_leave_an_enabled_key_for_an_inactive_user,
        webhook_ids_apply_once,
        directory_events_about_unknown_users_are_remembered,
        directory_events_of_a_user_apply_in_emission_order,
        users_are_listed_in_id_order_with_their_key_counts,
    );
}

mod keys_tests {
    crate::support::both_backends!(store keys:
        keys_freeze_the_owners_permissions,
        keys_narrow_to_held_permissions_only,
        inactive_owners_cannot_get_keys,
        every_update_changes_the_etag,
        stale_etags_conflict_and_change_nothing,
        concurrent_updates_with_one_etag_have_one_winner,
        enabling_requires_an_active_owner,
        delete_removes_the_key,
        listing_pages_in_creation_order_with_owner_filter,
        names_and_expiries_change_in_one_audited_update,
        allow_lists_are_stored_replaced_and_audited,
    );
}

mod secrets_tests {
    crate::support::both_backends!(store secrets:
        credentials_carry_hash_and_owner_state,
        a_grace_period_keeps_the_previous_secret_until_it_ends,
        the_secret_hint_follows_the_current_secret,
        one_update_can_disable_and_regenerate_atomically,
        check_tags_travel_with_their_secrets,
        last_use_is_recorded_without_changing_the_key,
        last_use_is_never_before_creation,
    );
}

mod signing_keys_tests {
    crate::support::both_backends!(store signing_keys:
        signing_keys_are_inserted_only_when_their_rule_holds,
        a_rewrap_applies_only_to_the_sealing_it_read,
    );
}

mod feed_tests {
    crate::support::both_backends!(store feed:
        audit_reads_newest_first_and_counts,
        every_change_appends_to_the_change_feed,
        expired_keys_are_disabled_and_audited,
        a_revocation_is_audited_once_with_its_target_and_operator,
        instances_see_the_other_public_urls_served_on_the_database,
        expiry_warnings_are_written_once_per_expiry,
    );
}

mod assertions_tests {
    crate::support::both_backends!(store assertions:
        each_assertion_is_new_once_and_forgotten_after_it_expires,
        a_batch_past_one_statement_answers_every_row,
    );
}

mod status_indexes_tests {
    crate::support::both_backends!(store status_indexes:
        indexes_are_allocated_once_and_never_reused,
    );
}

mod status_migration_tests {
    crate::support::both_backends!(status_indexes:
        keys_from_before_the_migration_get_distinct_indexes,
    );
}
