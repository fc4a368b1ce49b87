use super::*;
use time::OffsetDateTime;

fn entry(id: &str, index: u32) -> StatusEntry {
    StatusEntry {
        client_id: ClientId::new(id.into()),
        index,
        previous: None,
        usable: true,
        expires_at: None,
    }
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

fn snapshot(next_index: u32, entries: Vec<StatusEntry>) -> StatusSnapshot {
    StatusSnapshot {
        next_index,
        entries,
    }
}

fn bit(r: &Rendered, i: usize) -> bool {
    r.bytes[i / 8] & (1 << (i % 8)) != 0
}

#[test]
fn a_usable_key_is_zero_and_a_deleted_one_below_the_counter_is_one() {
    // Index 1 was allocated (the counter says 3) but no key has it: deleted.
    let ledger = Ledger::load(snapshot(3, vec![entry("a", 0), entry("c", 2)]));
    let r = ledger.render(100);
    assert!(!bit(&r, 0));
    assert!(bit(&r, 1));
    assert!(!bit(&r, 2));
    // Past the counter: not allocated when read, so no token names it (or a key made
    // since, announced by the feed): valid.
    assert!(!bit(&r, 3));
    assert_eq!(r.lists(), 1);
    assert_eq!(r.bytes.len(), LIST_SIZE as usize / 8);
    assert_eq!(r.next_change, None);
}

#[test]
fn disabled_and_expired_keys_are_one_and_an_expiry_is_the_next_change() {
    let mut disabled = entry("d", 0);
    disabled.usable = false;
    let mut expiring = entry("e", 1);
    expiring.expires_at = Some(at(200));
    let ledger = Ledger::load(snapshot(2, vec![disabled, expiring]));
    let before = ledger.render(199);
    assert!(bit(&before, 0));
    assert!(!bit(&before, 1));
    assert_eq!(before.next_change, Some(200));
    let after = ledger.render(200);
    assert!(bit(&after, 1));
    assert_eq!(after.next_change, None);
}

#[test]
fn a_replaced_secret_stays_valid_for_its_grace_then_is_one() {
    let mut ledger = Ledger::load(snapshot(1, vec![entry("k", 0)]));
    // Rotated with a grace period until 150: the new secret has index 1.
    let mut rotated = entry("k", 1);
    rotated.previous = Some((0, at(150)));
    ledger.apply(snapshot(2, vec![rotated]), &[]);
    assert!(!bit(&ledger.render(149), 0));
    assert!(!bit(&ledger.render(149), 1));
    assert!(bit(&ledger.render(150), 0));
    // Rotated again without grace: both older indexes are one at once, though the one
    // before last never appears in the row again.
    ledger.apply(snapshot(3, vec![entry("k", 2)]), &[]);
    let r = ledger.render(100);
    assert!(bit(&r, 0) && bit(&r, 1));
    assert!(!bit(&r, 2));
}

#[test]
fn a_key_read_as_gone_is_one_and_others_keep_their_bits() {
    let mut ledger = Ledger::load(snapshot(2, vec![entry("a", 0), entry("b", 1)]));
    ledger.apply(snapshot(2, vec![]), &[ClientId::new("a".into())]);
    let r = ledger.render(100);
    assert!(bit(&r, 0));
    assert!(!bit(&r, 1));
}

#[test]
fn a_key_created_and_deleted_between_two_reads_is_one_once_the_counter_passes_it() {
    let mut ledger = Ledger::load(snapshot(1, vec![entry("a", 0)]));
    // Index 1 was created and deleted before this read: the row is gone, the counter
    // says 2.
    ledger.apply(snapshot(2, vec![]), &[ClientId::new("x".into())]);
    assert!(bit(&ledger.render(100), 1));
}

#[test]
fn re_enabling_clears_the_bit() {
    let mut off = entry("a", 0);
    off.usable = false;
    let mut ledger = Ledger::load(snapshot(1, vec![off]));
    assert!(bit(&ledger.render(100), 0));
    ledger.apply(snapshot(1, vec![entry("a", 0)]), &[]);
    assert!(!bit(&ledger.render(100), 0));
}

#[test]
fn lists_grow_by_whole_lists() {
    let ledger = Ledger::load(snapshot(LIST_SIZE + 1, vec![entry("a", LIST_SIZE)]));
    let r = ledger.render(100);
    assert_eq!(r.lists(), 2);
    assert!(r.list(2).is_some() && r.list(3).is_none() && r.list(0).is_none());
    assert!(!bit(&r, LIST_SIZE as usize));
    assert!(bit(&r, LIST_SIZE as usize - 1));
}
