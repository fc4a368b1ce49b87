//! End-to-end tests of the HTTP API against a server on port 0, on both backends.

#[path = "../support/mod.rs"]
mod support;

mod allowed_ips;
mod app;
mod bad_input;
mod brute_force;
mod cluster;
mod connections;
mod console;
mod console_admin;
mod console_edit;
mod console_sessions;
mod console_visitor;
mod db_faults;
mod discovery;
mod events;
mod events_postgres;
mod fast_path;
mod feed_order;
mod gateway;
mod graphql;
mod graphql_access;
mod graphql_keys;
mod idp;
mod introspection;
mod management_rules;
mod metrics;
mod openapi;
mod private_key_jwt;
mod private_key_jwt_keys;
mod revocation;
mod rotation;
mod scale_out;
mod scim;
mod scim_bounds;
mod scim_compliance;
mod scim_concurrency;
mod scim_group_mappings;
mod scim_groups;
mod secretless_lifecycle;
mod session_tokens;
mod signing_keys;
mod status_list;
mod token;
mod token_errors;
mod verifier;
mod verifier_status;

pub(crate) use support::both_backends;
