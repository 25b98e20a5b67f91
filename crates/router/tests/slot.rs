//! Key-to-slot vectors, checked against Redis 7's `CLUSTER KEYSLOT`.
#![allow(clippy::unwrap_used)] // helpers of tests, where unwrap is the team rule

use proptest::prelude::*;
use router::{Error, Slot, SlotRange, SLOT_COUNT};

fn slot(key: &str) -> u16 {
    Slot::for_key(key.as_bytes()).get()
}

#[test]
fn redis_keyslot_vectors() {
    // Every value here is what `redis-cli CLUSTER KEYSLOT <key>` answers.
    let cases = [
        ("foo", 12182),
        ("hello", 866),
        ("{user1000}.following", 3443),
        ("{user1000}.followers", 3443),
        ("{}", 15257),
        ("{}{x}", 3257),
        ("foo{}{bar}", 8363),
        ("foo{{bar}}zap", 4015),
        ("{bar", 4015),
        ("foo{bar}{zap}", 5061),
        ("a{b}c", 3300),
        ("}{x}", 16287),
        ("", 0),
    ];
    for (key, want) in cases {
        assert_eq!(slot(key), want, "{key:?}");
    }
}

#[test]
fn hash_tags_group_keys() {
    assert_eq!(slot("{user1000}.following"), slot("user1000"));
    assert_eq!(slot("foo{bar}{zap}"), slot("bar"));
    assert_eq!(slot("foo{{bar}}zap"), slot("{bar"));
    // An empty tag hashes the whole key.
    assert_ne!(slot("{}a"), slot("{}b"));
}

#[test]
fn slot_bounds() {
    assert_eq!(Slot::new(16383).unwrap(), Slot::MAX);
    assert_eq!(Slot::new(16384), Err(Error::SlotOutOfRange(16384)));
    assert_eq!(Slot::try_from(0u16).unwrap(), Slot::MIN);
    assert_eq!(Slot::all().count(), usize::from(SLOT_COUNT));
    assert_eq!(Slot::MAX.to_string(), "16383");
}

#[test]
fn ranges() {
    let r = SlotRange::from_numbers(10, 20).unwrap();
    assert_eq!(r.len(), 11);
    assert!(!r.is_empty());
    assert!(r.contains(Slot::new(10).unwrap()) && r.contains(Slot::new(20).unwrap()));
    assert!(!r.contains(Slot::new(21).unwrap()));
    assert_eq!(r.slots().count(), 11);
    assert_eq!(r.to_string(), "10-20");
    assert_eq!(SlotRange::full().len(), 16384);
    assert!(matches!(
        SlotRange::from_numbers(5, 4),
        Err(Error::EmptyRange { .. })
    ));
    assert_eq!(
        SlotRange::from_numbers(0, 16384),
        Err(Error::SlotOutOfRange(16384))
    );
}

proptest! {
    #[test]
    fn every_key_has_a_valid_slot(key in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert!(Slot::for_key(&key).get() < SLOT_COUNT);
    }

    #[test]
    fn tagged_keys_share_the_tag_slot(tag in "[a-z0-9]{1,10}", a in "[a-z{]{0,5}", b in "[a-z{}]{0,5}") {
        let key = format!("{a}{{{tag}}}{b}");
        // The tag is the text between the first '{' and the first '}' after it.
        let open = key.find('{').unwrap();
        let close = open + 1 + key[open + 1..].find('}').unwrap();
        let expected = if close > open + 1 { &key[open + 1..close] } else { key.as_str() };
        prop_assert_eq!(slot(&key), slot(expected));
    }
}
