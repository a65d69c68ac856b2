//! The store's access control and per-user \Seen (`store::acl`): every
//! operation, the cleanup that deletion and renaming owe them, `roost
//! check` finding damage, and a model-based property test.

use std::collections::HashMap;

use proptest::prelude::*;

use super::tests::{append, deleted, run, store_on, SmallDisk};
use super::*;

fn rights(letters: &str) -> Rights {
    Rights::parse(letters.as_bytes()).expect("rights")
}

fn modifier(action: FlagAction, rights: Rights) -> Modifier {
    match action {
        FlagAction::Add => Modifier::Add(rights),
        FlagAction::Remove => Modifier::Remove(rights),
        FlagAction::Replace => Modifier::Replace(rights),
    }
}

fn change(identifier: Identifier, action: FlagAction, letters: &str) -> RightsChange {
    RightsChange { identifier, negative: false, modifier: modifier(action, rights(letters)) }
}

fn denial(identifier: Identifier, letters: &str) -> RightsChange {
    RightsChange { identifier, negative: true, modifier: Modifier::Replace(rights(letters)) }
}

/// Adds the users `names` and answers their ids, in order.
async fn users(store: &Store, names: &[&str]) -> Vec<u32> {
    let mut ids = Vec::new();
    for name in names {
        store.execute(Op::AddUser { name: (*name).into(), password_hash: "x".into() }).await.unwrap();
        ids.push(store.read().unwrap().user(name).unwrap().unwrap().id);
    }
    ids
}

/// Runs `work` on a new store in memory.
fn with_store(work: impl AsyncFnOnce(&Store)) {
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 0);
    run(&store, pump, work(&store));
}

fn assert_clean(store: &Store) {
    let report = check_database(&store.database()).unwrap();
    assert!(report.is_clean(), "{}", report.summary());
}

#[test]
fn rights_are_bits_in_rfc_order() {
    assert_eq!(Rights::ALL.to_string(), "lrswipkxtea");
    assert_eq!(Rights::ALL.bits(), 0x07ff);
    assert_eq!(rights("l"), Rights::LOOKUP);
    assert_eq!(rights("a"), Rights::ADMINISTER);
    // Bits above 10 name no right.
    assert_eq!(Rights::from_bits(0xffff), Rights::ALL);
    assert_eq!(rights("lrs").difference(rights("r")).to_string(), "ls");
    assert!(rights("lrs").contains(rights("ls")));
    assert!(!rights("ls").contains(rights("lr")));
}

#[test]
fn set_rights_adds_removes_replaces_and_deletes() {
    with_store(async |store| {
        let [alice, bob] = users(store, &["alice", "bob"]).await[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        let bob_id = Identifier::User(bob);
        let entry = store.set_rights(bills, change(bob_id, FlagAction::Replace, "lr")).await.unwrap();
        assert_eq!(entry, AclEntry { identifier: bob_id, granted: rights("lr"), denied: Rights::NONE });
        store.set_rights(bills, change(bob_id, FlagAction::Add, "si")).await.unwrap();
        let entry = store.set_rights(bills, change(bob_id, FlagAction::Remove, "r")).await.unwrap();
        assert_eq!(entry.granted.to_string(), "lsi");
        assert_eq!(store.read().unwrap().rights_of(bob, bills).unwrap(), Some(rights("lsi")));
        // A negative entry beside it, in the same row.
        store.set_rights(bills, denial(bob_id, "s")).await.unwrap();
        let acl: Acl = store.read().unwrap().acl(bills).unwrap().unwrap();
        assert_eq!(acl.owner, alice);
        assert_eq!(acl.entries, [AclEntry { identifier: bob_id, granted: rights("lsi"), denied: rights("s") }]);
        assert_eq!(store.read().unwrap().rights_of(bob, bills).unwrap(), Some(rights("li")));
        // DELETEACL of the granted entry leaves the negative one.
        let entry = store.set_rights(bills, RightsChange::delete(bob_id, false)).await.unwrap();
        assert_eq!((entry.granted, entry.denied), (Rights::NONE, rights("s")));
        assert_eq!(store.read().unwrap().shared_with(bob).unwrap(), []);
        store.set_rights(bills, RightsChange::delete(bob_id, true)).await.unwrap();
        assert_eq!(store.read().unwrap().acl(bills).unwrap().unwrap().entries, []);
        assert_eq!(store.read().unwrap().rights_of(bob, bills).unwrap(), Some(Rights::NONE));
        assert_clean(store);
    });
}

#[test]
fn the_owner_holds_every_right_and_cannot_be_named() {
    with_store(async |store| {
        let [alice] = users(store, &["alice"]).await[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        let refused = store.set_rights(bills, change(Identifier::User(alice), FlagAction::Remove, "a")).await;
        assert_eq!(refused, Err(StoreError::OwnerRights));
        // Not even `anyone -a` takes the owner's rights.
        store.set_rights(bills, denial(Identifier::Anyone, "lrswipkxtea")).await.unwrap();
        assert_eq!(store.read().unwrap().rights_of(alice, bills).unwrap(), Some(Rights::ALL));
        // Their own mailbox is not "shared with" them.
        store.set_rights(bills, change(Identifier::Anyone, FlagAction::Replace, "lr")).await.unwrap();
        assert_eq!(store.read().unwrap().shared_with(alice).unwrap(), []);
    });
}

#[test]
fn rights_are_the_union_of_user_authenticated_and_anyone_less_the_negatives() {
    with_store(async |store| {
        let [alice, bob, carol] = users(store, &["alice", "bob", "carol"]).await[..] else { unreachable!() };
        let news = store.create_mailbox(alice, "News".into(), None).await.unwrap();
        let diary = store.create_mailbox(alice, "Diary".into(), None).await.unwrap();
        store.set_rights(news, change(Identifier::Anyone, FlagAction::Replace, "l")).await.unwrap();
        store.set_rights(news, change(Identifier::Authenticated, FlagAction::Replace, "rs")).await.unwrap();
        store.set_rights(news, change(Identifier::User(bob), FlagAction::Replace, "wi")).await.unwrap();
        store.set_rights(news, denial(Identifier::User(carol), "s")).await.unwrap();
        let reader = store.read().unwrap();
        assert_eq!(reader.rights_of(bob, news).unwrap(), Some(rights("lrswi")));
        assert_eq!(reader.rights_of(carol, news).unwrap(), Some(rights("lr")));
        assert_eq!(reader.rights_of(carol, diary).unwrap(), Some(Rights::NONE));
        assert_eq!(reader.rights_of(carol, 9999).unwrap(), None);
        assert_eq!(reader.shared_with(bob).unwrap(), [(news, rights("lrswi"))]);
        assert_eq!(reader.shared_with(carol).unwrap(), [(news, rights("lr"))]);
    });
}

#[test]
fn unknown_users_and_mailboxes_are_refused() {
    with_store(async |store| {
        let [alice] = users(store, &["alice"]).await[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        for nobody in [alice + 100, PUBLIC_OWNER, schema::RESERVED_IDS] {
            let refused = store.set_rights(bills, change(Identifier::User(nobody), FlagAction::Add, "l")).await;
            assert_eq!(refused, Err(StoreError::NoSuchUser), "user {nobody}");
        }
        let refused = store.set_rights(bills + 100, change(Identifier::Anyone, FlagAction::Add, "l")).await;
        assert_eq!(refused, Err(StoreError::NoSuchMailbox));
        assert_eq!(store.read().unwrap().acl(bills).unwrap().unwrap().entries, []);
        assert_eq!(store.read().unwrap().acl(bills + 100).unwrap(), None);
    });
}

#[test]
fn entries_go_with_their_mailbox_and_user_and_survive_a_rename() {
    with_store(async |store| {
        let [alice, bob, carol] = users(store, &["alice", "bob", "carol"]).await[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        let school = store.create_mailbox(alice, "School".into(), None).await.unwrap();
        let child = store.create_mailbox(alice, "School/2026".into(), None).await.unwrap();
        let bobs = store.create_mailbox(bob, "Recipes".into(), None).await.unwrap();
        for mailbox in [bills, school, child] {
            store.set_rights(mailbox, change(Identifier::User(bob), FlagAction::Replace, "lr")).await.unwrap();
            store.set_rights(mailbox, change(Identifier::User(carol), FlagAction::Replace, "l")).await.unwrap();
        }
        store.set_rights(bobs, change(Identifier::User(carol), FlagAction::Replace, "lr")).await.unwrap();
        store.set_rights(bobs, change(Identifier::User(alice), FlagAction::Replace, "lr")).await.unwrap();

        // RENAME keeps the id, so the entries stay (children too).
        store.execute(Op::RenameMailbox { user: alice, from: "School".into(), to: "Kids".into() }).await.unwrap();
        let reader = store.read().unwrap();
        assert_eq!(reader.mailbox_id(alice, "Kids").unwrap(), Some(school));
        assert_eq!(reader.mailbox_id(alice, "Kids/2026").unwrap(), Some(child));
        assert_eq!(reader.rights_of(bob, school).unwrap(), Some(rights("lr")));
        assert_eq!(reader.rights_of(bob, child).unwrap(), Some(rights("lr")));
        drop(reader);
        assert_clean(store);

        // DELETE: the ACL goes with the mailbox.
        store.execute(Op::DeleteMailbox { user: alice, name: "Bills".into() }).await.unwrap();
        assert_eq!(store.read().unwrap().acl(bills).unwrap(), None);
        // DELETE of a name with children: the placeholder keeps no ACL.
        store.execute(Op::DeleteMailbox { user: alice, name: "Kids".into() }).await.unwrap();
        assert_eq!(store.read().unwrap().acl(school).unwrap().unwrap().entries, []);
        let shared: Vec<u64> = store.read().unwrap().shared_with(bob).unwrap().into_iter().map(|(id, _)| id).collect();
        assert_eq!(shared, [child]);
        assert_clean(store);

        // Deleting carol: her entries in others' ACLs go.
        store.execute(Op::DeleteUser { name: "carol".into() }).await.unwrap();
        assert_eq!(store.read().unwrap().acl(child).unwrap().unwrap().entries.len(), 1);
        assert_eq!(store.read().unwrap().acl(bobs).unwrap().unwrap().entries.len(), 1);
        assert_eq!(store.read().unwrap().shared_with(carol).unwrap(), []);
        assert_clean(store);
        // Deleting bob: his entries and his own mailboxes' entries go.
        store.execute(Op::DeleteUser { name: "bob".into() }).await.unwrap();
        assert_eq!(store.read().unwrap().acl(child).unwrap().unwrap().entries, []);
        assert_eq!(store.read().unwrap().shared_with(alice).unwrap(), []);
        let (forward, reverse) = store.read().unwrap().acl_rows().unwrap();
        assert!(forward.is_empty() && reverse.is_empty(), "{forward:?} {reverse:?}");
        assert_clean(store);
    });
}

#[test]
fn a_public_mailbox_belongs_to_the_household_with_its_default_acl() {
    with_store(async |store| {
        let [alice, bob, carol] = users(store, &["alice", "bob", "carol"]).await[..] else { unreachable!() };
        let entries = vec![
            AclEntry { identifier: Identifier::Authenticated, granted: rights("lrs"), denied: Rights::NONE },
            AclEntry { identifier: Identifier::User(alice), granted: Rights::ALL, denied: Rights::NONE },
            AclEntry { identifier: Identifier::User(bob), granted: rights("lrswipte"), denied: Rights::NONE },
        ];
        let bills = store.create_public_mailbox("Family/Bills".into(), None, entries.clone()).await.unwrap();
        let reader = store.read().unwrap();
        assert_eq!(reader.mailbox(bills).unwrap().unwrap().user_id, PUBLIC_OWNER);
        assert_eq!(reader.mailbox_id(PUBLIC_OWNER, "Family/Bills").unwrap(), Some(bills));
        let acl = reader.acl(bills).unwrap().unwrap();
        assert_eq!(acl.owner, PUBLIC_OWNER);
        let mut expected = entries.clone();
        expected.sort_by_key(|entry| entry.identifier);
        assert_eq!(acl.entries, expected);
        assert_eq!(reader.rights_of(alice, bills).unwrap(), Some(Rights::ALL));
        assert_eq!(reader.rights_of(bob, bills).unwrap(), Some(rights("lrswipte")));
        assert_eq!(reader.rights_of(carol, bills).unwrap(), Some(rights("lrs")));
        assert_eq!(reader.shared_with(carol).unwrap(), [(bills, rights("lrs"))]);
        drop(reader);
        // Messages go in as anywhere else.
        append(store, bills, 100).await.unwrap();
        assert_clean(store);
        assert_eq!(
            store.create_public_mailbox("Family/Bills".into(), None, Vec::new()).await,
            Err(StoreError::MailboxExists)
        );
        // A default ACL naming nobody: refused before anything is created.
        let stray = vec![AclEntry { identifier: Identifier::User(999), granted: rights("l"), denied: Rights::NONE }];
        assert_eq!(store.create_public_mailbox("Family/News".into(), None, stray).await, Err(StoreError::NoSuchUser));
        assert_eq!(store.read().unwrap().mailbox_id(PUBLIC_OWNER, "Family/News").unwrap(), None);
        // The household's mailboxes are deleted like anyone's, ACL and all.
        store.execute(Op::DeleteMailbox { user: PUBLIC_OWNER, name: "Family/Bills".into() }).await.unwrap();
        assert_eq!(store.read().unwrap().shared_with(carol).unwrap(), []);
        assert_clean(store);
    });
}

#[test]
fn private_seen_is_per_user_bumps_the_modseq_and_goes_with_message_mailbox_and_user() {
    with_store(async |store| {
        let [alice, bob, carol] = users(store, &["alice", "bob", "carol"]).await[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        for size in [10, 20, 30, 40] {
            append(store, bills, size).await.unwrap();
        }
        let before = store.read().unwrap().mailbox(bills).unwrap().unwrap().highest_modseq;
        let stored = store.set_private_seen(bills, bob, UidSet(vec![(1, 3), (9, 9)]), true).await.unwrap();
        assert_eq!((stored.modseq, stored.changed), (before + 1, 3));
        store.set_private_seen(bills, carol, UidSet(vec![(2, 2)]), true).await.unwrap();
        let reader = store.read().unwrap();
        assert_eq!(reader.private_seen(bills, bob, 1, u32::MAX).unwrap(), [1, 2, 3]);
        assert_eq!(reader.private_seen(bills, bob, 2, 2).unwrap(), [2]);
        assert_eq!(reader.private_seen(bills, carol, 1, u32::MAX).unwrap(), [2]);
        // The shared flag and modseq stay as they were: the change is
        // in the reader's own index only.
        let record = reader.messages().unwrap().get(bills, 1).unwrap().unwrap();
        assert_eq!((record.flags, record.modseq), (Flags::default(), 2), "as appended");
        assert_eq!(reader.changes_since(bills, before).unwrap(), []);
        drop(reader);
        // Setting what is already set changes nothing, modseq included.
        let again = store.set_private_seen(bills, bob, UidSet(vec![(1, 1)]), true).await.unwrap();
        assert_eq!((again.modseq, again.changed), (before + 2, 0));
        let cleared = store.set_private_seen(bills, bob, UidSet(vec![(3, 3)]), false).await.unwrap();
        assert_eq!(cleared.changed, 1);
        assert_eq!(store.read().unwrap().private_seen(bills, bob, 1, u32::MAX).unwrap(), [1, 2]);
        // Four messages, two of them seen by bob, one by carol.
        assert_eq!(store.read().unwrap().private_unseen(bills, bob).unwrap(), 2);
        assert_eq!(store.read().unwrap().private_unseen(bills, carol).unwrap(), 3);
        assert_eq!(store.read().unwrap().private_unseen(bills, alice).unwrap(), 4);
        // The owner's \Seen is the message's own flag.
        assert_eq!(
            store.set_private_seen(bills, alice, UidSet(vec![(1, 1)]), true).await,
            Err(StoreError::OwnerRights)
        );
        assert_eq!(store.set_private_seen(bills, 999, UidSet(vec![(1, 1)]), true).await, Err(StoreError::NoSuchUser));
        assert_clean(store);

        // Expunged messages take their rows along.
        store.set_flags(bills, UidSet(vec![(1, 1)]), deleted()).await.unwrap();
        store.expunge(bills, None).await.unwrap();
        assert_eq!(store.read().unwrap().private_seen(bills, bob, 1, u32::MAX).unwrap(), [2]);
        assert_clean(store);
        // A deleted user's rows go.
        store.execute(Op::DeleteUser { name: "carol".into() }).await.unwrap();
        assert_eq!(store.read().unwrap().private_seen(bills, carol, 1, u32::MAX).unwrap(), []);
        assert_clean(store);
        // And a deleted mailbox's.
        store.execute(Op::DeleteMailbox { user: alice, name: "Bills".into() }).await.unwrap();
        let (rows, by_user) = store.read().unwrap().private_seen_rows().unwrap();
        assert!(rows.is_empty() && by_user.is_empty(), "{rows:?} {by_user:?}");
        assert_clean(store);
    });
}

/// A reader's STORE: what `s`, `w` and `t` allow.
fn reader(user: u32, letters: &str) -> ReaderRights {
    let rights = rights(letters);
    ReaderRights {
        user,
        flags: rights.settable_flags().difference(Flags::SEEN),
        keywords: rights.contains(Rights::STORE_OTHER),
        seen: rights.contains(Rights::STORE_SEEN),
    }
}

fn flags_change(action: FlagAction, flags: Flags, unchanged_since: Option<u64>) -> FlagChange {
    FlagChange { action, flags, keywords: Vec::new(), unchanged_since }
}

/// Each user's HIGHESTMODSEQ of `mailbox`, in the order of `users`.
fn highest(store: &Store, mailbox: u64, users: &[u32]) -> Vec<u64> {
    let reader = store.read().unwrap();
    users.iter().map(|&user| reader.highest_modseq_for(mailbox, user).unwrap()).collect()
}

#[test]
fn private_changes_take_modseqs_only_their_reader_sees() {
    with_store(async |store| {
        let everyone = users(store, &["alice", "bob", "carol"]).await;
        let [alice, bob, carol] = everyone[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        for size in [10, 20, 30, 40] {
            append(store, bills, size).await.unwrap();
        }
        let h0 = store.read().unwrap().mailbox(bills).unwrap().unwrap().highest_modseq;
        let mut seen_by = vec![highest(store, bills, &everyone)];
        assert_eq!(seen_by[0], [h0, h0, h0]);

        // bob reads 1 and 2: his modseq alone moves; nothing shared changed.
        store.set_private_seen(bills, bob, UidSet(vec![(1, 2)]), true).await.unwrap();
        assert_eq!(highest(store, bills, &everyone), [h0, h0 + 1, h0]);
        // carol reads 3: bob does not see it.
        store.set_private_seen(bills, carol, UidSet(vec![(3, 3)]), true).await.unwrap();
        seen_by.push(highest(store, bills, &everyone));
        assert_eq!(seen_by[1], [h0, h0 + 1, h0 + 2]);
        {
            let reader = store.read().unwrap();
            assert_eq!(reader.changes_since(bills, h0).unwrap(), [], "the shared index never hears of it");
            let record = reader.mailbox(bills).unwrap().unwrap();
            assert_eq!((record.highest_modseq, reader.shared_modseq(bills, &record).unwrap()), (h0 + 2, h0));
            let bob_changes: Vec<_> =
                reader.private_changes_from(bills, bob, (0, 0)).unwrap().map(Result::unwrap).collect();
            assert_eq!(bob_changes, [(h0 + 1, 1), (h0 + 1, 2)]);
            let flags = reader.private_flags(bills, bob, 2).unwrap();
            assert_eq!((flags.seen, flags.modseq), (true, h0 + 1));
            assert_eq!(reader.private_flags(bills, carol, 2).unwrap().modseq, 0);
        }

        // alice flags 4: a shared change, everyone's modseq.
        store
            .set_flags(bills, UidSet(vec![(4, 4)]), flags_change(FlagAction::Add, Flags::FLAGGED, None))
            .await
            .unwrap();
        seen_by.push(highest(store, bills, &everyone));
        assert_eq!(seen_by[2], [h0 + 3; 3]);

        // bob stores \Seen \Flagged \Deleted on 3 with `lrsw`: \Deleted is
        // dropped, \Flagged shared, \Seen his own, all at one modseq.
        let stored = store
            .set_flags_as(
                bills,
                UidSet(vec![(3, 3)]),
                flags_change(FlagAction::Add, Flags::SEEN.union(Flags::FLAGGED).union(Flags::DELETED), None),
                reader(bob, "lrsw"),
            )
            .await
            .unwrap();
        assert_eq!((stored.modseq, stored.changed), (h0 + 4, 1));
        {
            let reader = store.read().unwrap();
            let record = reader.messages().unwrap().get(bills, 3).unwrap().unwrap();
            assert_eq!((record.flags, record.modseq), (Flags::FLAGGED, h0 + 4));
            assert_eq!(
                reader.private_flags(bills, bob, 3).unwrap(),
                super::acl::PrivateFlags { seen: true, modseq: h0 + 4 }
            );
            assert!(reader.private_flags(bills, carol, 3).unwrap().seen, "carol's own \\Seen is hers");
        }
        seen_by.push(highest(store, bills, &everyone));
        assert_eq!(seen_by[3], [h0 + 4; 3]);

        // Nothing bob may change: nothing changes, no modseq taken.
        let none = store
            .set_flags_as(
                bills,
                UidSet(vec![(1, 4)]),
                flags_change(FlagAction::Add, Flags::DELETED, None),
                reader(bob, "lrsw"),
            )
            .await
            .unwrap();
        assert_eq!(none.changed, 0);
        assert_eq!(highest(store, bills, &everyone), [h0 + 4; 3]);

        // UNCHANGEDSINCE compares bob's own modseq: carol reading 1 after
        // bob's limit does not stop him; his own read of 3 does.
        store.set_private_seen(bills, carol, UidSet(vec![(1, 1)]), true).await.unwrap();
        let limit = h0 + 1;
        let conditional = store
            .set_flags_as(
                bills,
                UidSet(vec![(1, 1), (3, 3)]),
                flags_change(FlagAction::Add, Flags::ANSWERED, Some(limit)),
                reader(bob, "lrsw"),
            )
            .await
            .unwrap();
        assert_eq!(conditional.modified, [3]);
        assert_eq!(conditional.modseq, h0 + 6);
        assert!(store
            .read()
            .unwrap()
            .messages()
            .unwrap()
            .get(bills, 1)
            .unwrap()
            .unwrap()
            .flags
            .contains(Flags::ANSWERED));

        // FLAGS (\Draft) by bob with `lrsw`: the owner's \Seen in the record
        // stays, \Flagged goes, his own \Seen is cleared (privately).
        store.set_flags(bills, UidSet(vec![(3, 3)]), flags_change(FlagAction::Add, Flags::SEEN, None)).await.unwrap();
        store
            .set_flags_as(
                bills,
                UidSet(vec![(3, 3)]),
                flags_change(FlagAction::Replace, Flags::DRAFT, None),
                reader(bob, "lrsw"),
            )
            .await
            .unwrap();
        {
            let reader = store.read().unwrap();
            let record = reader.messages().unwrap().get(bills, 3).unwrap().unwrap();
            assert_eq!(record.flags, Flags::SEEN.union(Flags::DRAFT));
            assert!(!reader.private_flags(bills, bob, 3).unwrap().seen);
            assert_eq!(reader.private_seen(bills, bob, 1, u32::MAX).unwrap(), [1, 2]);
        }
        // Without `s`, \Seen alone changes nothing.
        let unseen = store
            .set_flags_as(
                bills,
                UidSet(vec![(3, 3)]),
                flags_change(FlagAction::Add, Flags::SEEN, None),
                reader(bob, "lrw"),
            )
            .await
            .unwrap();
        assert_eq!(unseen.changed, 0);
        // bob's own \Seen alone: a modseq of his own again.
        store.set_private_seen(bills, bob, UidSet(vec![(4, 4)]), true).await.unwrap();
        seen_by.push(highest(store, bills, &everyone));
        let [for_alice, for_bob, for_carol] = seen_by[4][..] else { unreachable!() };
        assert!(for_bob > for_alice && for_alice == for_carol, "{:?}", seen_by[4]);
        for user in 0..3 {
            assert!(seen_by.windows(2).all(|pair| pair[0][user] <= pair[1][user]), "user {user}: {seen_by:?}");
        }
        // The owner cannot store as a reader.
        assert_eq!(
            store
                .set_flags_as(
                    bills,
                    UidSet(vec![(1, 1)]),
                    flags_change(FlagAction::Add, Flags::SEEN, None),
                    reader(alice, "lrsw")
                )
                .await,
            Err(StoreError::OwnerRights)
        );
        assert_clean(store);

        // Expunging 1 and 2 takes bob's and carol's rows of them along.
        store.set_flags(bills, UidSet(vec![(1, 2)]), deleted()).await.unwrap();
        store.expunge(bills, None).await.unwrap();
        {
            let reader = store.read().unwrap();
            let bob_changes: Vec<_> =
                reader.private_changes_from(bills, bob, (0, 0)).unwrap().map(|row| row.unwrap().1).collect();
            assert_eq!(bob_changes, [3, 4]);
            assert_eq!(reader.private_flags(bills, carol, 1).unwrap().modseq, 0);
        }
        assert_clean(store);
        // A deleted user's rows go, and a deleted mailbox's (its shared modseq too).
        store.execute(Op::DeleteUser { name: "carol".into() }).await.unwrap();
        assert_eq!(store.read().unwrap().private_changes_from(bills, carol, (0, 0)).unwrap().count(), 0);
        assert_clean(store);
        store.execute(Op::DeleteMailbox { user: alice, name: "Bills".into() }).await.unwrap();
        let rows = store.read().unwrap().private_change_rows().unwrap();
        assert!(rows.flags.is_empty() && rows.changes.is_empty() && rows.shared.is_empty());
        assert_clean(store);
    });
}

#[test]
fn a_copy_into_another_owners_mailbox_leaves_the_records_seen_behind() {
    with_store(async |store| {
        let [alice, bob] = users(store, &["alice", "bob"]).await[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        let paid = store.create_mailbox(alice, "Paid".into(), None).await.unwrap();
        let bob_inbox = store.read().unwrap().mailbox_id(bob, INBOX).unwrap().unwrap();
        append(store, bills, 10).await.unwrap();
        let seen_flagged = Flags::SEEN.union(Flags::FLAGGED);
        store.set_flags(bills, UidSet(vec![(1, 1)]), flags_change(FlagAction::Add, seen_flagged, None)).await.unwrap();
        store.copy(bills, paid, UidSet(vec![(1, 1)]), false).await.unwrap();
        store.copy(bills, bob_inbox, UidSet(vec![(1, 1)]), false).await.unwrap();
        let reader = store.read().unwrap();
        let messages = reader.messages().unwrap();
        // alice's own copy keeps her \Seen; bob's does not get it.
        assert_eq!(messages.get(paid, 1).unwrap().unwrap().flags, seen_flagged);
        let copied = messages.range(bob_inbox, 1, u32::MAX).unwrap().next().unwrap().unwrap().1;
        assert_eq!(copied.flags, Flags::FLAGGED);
        drop((messages, reader));
        assert_clean(store);
    });
}

/// Plants one inconsistency at a time in the access tables; `check` must name it.
#[test]
fn check_finds_each_kind_of_access_damage() {
    use super::schema::{ACL, ACL_GRANTEES, PRIVATE_CHANGES, PRIVATE_SEEN, PRIVATE_SEEN_MAILBOXES, SHARED_MODSEQ};

    type Damage = fn(&redb::WriteTransaction, u64, u32);
    let damages: [(&str, &str, Damage); 11] = [
        ("an entry missing from the by-grantee index", "missing from the by-grantee index", |txn, mailbox, bob| {
            ACL_GRANTEES.open(txn).unwrap().remove((bob, mailbox)).unwrap();
        }),
        ("a by-grantee row without an entry", "has no ACL entry", |txn, mailbox, _| {
            ACL_GRANTEES.open(txn).unwrap().insert((ANYONE_KEY, mailbox), ()).unwrap();
        }),
        ("an entry of a mailbox that is gone", "the mailbox does not exist", |txn, mailbox, bob| {
            ACL.open(txn).unwrap().insert((mailbox + 50, bob), 1).unwrap();
            ACL_GRANTEES.open(txn).unwrap().insert((bob, mailbox + 50), ()).unwrap();
        }),
        ("an entry naming a user who is gone", "names a user who does not exist", |txn, mailbox, bob| {
            ACL.open(txn).unwrap().insert((mailbox, bob + 50), 1).unwrap();
            ACL_GRANTEES.open(txn).unwrap().insert((bob + 50, mailbox), ()).unwrap();
        }),
        ("an empty entry", "holds no rights", |txn, mailbox, bob| {
            ACL.open(txn).unwrap().insert((mailbox, bob), 0).unwrap();
        }),
        ("a private \\Seen of a message that is gone", "the message does not exist", |txn, mailbox, bob| {
            PRIVATE_SEEN.open(txn).unwrap().insert((mailbox, bob, 77), ()).unwrap();
        }),
        ("a private \\Seen missing from the per-user table", "per-user table disagrees", |txn, mailbox, bob| {
            PRIVATE_SEEN_MAILBOXES.open(txn).unwrap().remove((bob, mailbox)).unwrap();
        }),
        ("a private \\Seen of a user who is gone", "the user does not exist", |txn, mailbox, bob| {
            PRIVATE_SEEN.open(txn).unwrap().insert((mailbox, bob + 50, 1), ()).unwrap();
            PRIVATE_SEEN_MAILBOXES.open(txn).unwrap().insert((bob + 50, mailbox), ()).unwrap();
        }),
        (
            "private flags missing from the private change index",
            "missing from the private change index",
            |txn, mailbox, bob| {
                PRIVATE_CHANGES.open(txn).unwrap().retain(|_, ()| false).unwrap();
                let _ = (mailbox, bob);
            },
        ),
        ("a private change without its flags row", "has no private flags row", |txn, mailbox, bob| {
            PRIVATE_CHANGES.open(txn).unwrap().insert((mailbox, bob, 1, 1), ()).unwrap();
        }),
        ("a shared modseq beyond the counter", "against HIGHESTMODSEQ", |txn, mailbox, _| {
            SHARED_MODSEQ.open(txn).unwrap().insert(mailbox, (1, 999)).unwrap();
        }),
    ];
    const ANYONE_KEY: u32 = schema::ANYONE;
    for (what, expected, damage) in damages {
        with_store(async |store| {
            let [alice, bob] = users(store, &["alice", "bob"]).await[..] else { unreachable!() };
            let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
            append(store, bills, 10).await.unwrap();
            store.set_rights(bills, change(Identifier::User(bob), FlagAction::Replace, "lrs")).await.unwrap();
            store.set_private_seen(bills, bob, UidSet(vec![(1, 1)]), true).await.unwrap();
            assert_clean(store);
            let database = store.database();
            let transaction = database.begin_write().unwrap();
            damage(&transaction, bills, bob);
            transaction.commit().unwrap();
            let report = check_database(&database).unwrap();
            assert!(!report.is_clean(), "{what} went unnoticed");
            let summary = report.summary();
            assert!(summary.contains(expected), "{what}: {summary}");
        });
    }
}

/// One step of the property test below.
#[derive(Clone, Debug)]
enum Step {
    /// Identifier 0..3: a user; 3 `authenticated`; 4 `anyone`.
    Set {
        mailbox: usize,
        identifier: u8,
        negative: bool,
        action: u8,
        bits: u16,
    },
    DeleteMailbox {
        mailbox: usize,
    },
    DeleteUser {
        user: usize,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0..4usize, 0..5u8, any::<bool>(), 0..3u8, 0..0x800u16).prop_map(
            |(mailbox, identifier, negative, action, bits)| Step::Set { mailbox, identifier, negative, action, bits }
        ),
        1 => (0..4usize).prop_map(|mailbox| Step::DeleteMailbox { mailbox }),
        1 => (0..3usize).prop_map(|user| Step::DeleteUser { user }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random grants, revocations and deletions: the forward and by-grantee
    /// tables hold the same pairs (`check`), and `acl`, `rights_of` and
    /// `shared_with` agree with a plain model of the entries.
    #[test]
    fn acl_operations_agree_with_a_model(steps in proptest::collection::vec(step(), 1..30)) {
        with_store(async |store| {
            let names = ["u0", "u1", "u2"];
            let ids = users(store, &names).await;
            let mut alive = [true; 3];
            // Mailbox i belongs to user i % 3 (the fourth is the household's).
            let mut mailboxes = Vec::new();
            for (index, &owner) in ids.iter().enumerate() {
                mailboxes.push(Some((owner, store.create_mailbox(owner, format!("M{index}"), None).await.unwrap())));
            }
            mailboxes.push(Some((PUBLIC_OWNER, store.create_public_mailbox("Family/M3".into(), None, Vec::new()).await.unwrap())));
            // (mailbox id, identifier) → (granted, denied)
            let mut model: HashMap<(u64, Identifier), (u16, u16)> = HashMap::new();
            for step in steps {
                match step {
                    Step::Set { mailbox, identifier, negative, action, bits } => {
                        let Some((owner, id)) = mailboxes[mailbox] else { continue };
                        let identifier = match identifier {
                            0..=2 => Identifier::User(ids[identifier as usize]),
                            3 => Identifier::Authenticated,
                            _ => Identifier::Anyone,
                        };
                        let action = [FlagAction::Add, FlagAction::Remove, FlagAction::Replace][action as usize];
                        let result = store.set_rights(id, RightsChange { identifier, negative, modifier: modifier(action, Rights::from_bits(bits)) }).await;
                        if let Identifier::User(user) = identifier {
                            if user == owner {
                                assert_eq!(result, Err(StoreError::OwnerRights));
                                continue;
                            }
                            if !alive[ids.iter().position(|known| *known == user).unwrap()] {
                                assert_eq!(result, Err(StoreError::NoSuchUser));
                                continue;
                            }
                        }
                        let old = model.get(&(id, identifier)).copied().unwrap_or((0, 0));
                        let side = if negative { old.1 } else { old.0 };
                        let new = match action {
                            FlagAction::Add => side | bits,
                            FlagAction::Remove => side & !bits,
                            FlagAction::Replace => bits,
                        };
                        let entry = if negative { (old.0, new) } else { (new, old.1) };
                        if entry == (0, 0) {
                            model.remove(&(id, identifier));
                        } else {
                            model.insert((id, identifier), entry);
                        }
                        let answered = result.unwrap();
                        assert_eq!((answered.granted.bits(), answered.denied.bits()), entry);
                    }
                    Step::DeleteMailbox { mailbox } => {
                        let Some((owner, id)) = mailboxes[mailbox].take() else { continue };
                        store.execute(Op::DeleteMailbox { user: owner, name: store.read().unwrap().mailbox(id).unwrap().unwrap().name }).await.unwrap();
                        model.retain(|(mailbox, _), _| *mailbox != id);
                    }
                    Step::DeleteUser { user } => {
                        if !std::mem::replace(&mut alive[user], false) {
                            continue;
                        }
                        store.execute(Op::DeleteUser { name: names[user].into() }).await.unwrap();
                        let gone = ids[user];
                        model.retain(|(_, identifier), _| *identifier != Identifier::User(gone));
                        for slot in &mut mailboxes {
                            if slot.is_some_and(|(owner, _)| owner == gone) {
                                let (_, id) = slot.take().unwrap();
                                model.retain(|(mailbox, _), _| *mailbox != id);
                            }
                        }
                    }
                }
                // The store against the model, after every step.
                let reader = store.read().unwrap();
                for &(owner, id) in mailboxes.iter().flatten() {
                    let mut expected: Vec<AclEntry> = model
                        .iter()
                        .filter(|((mailbox, _), _)| *mailbox == id)
                        .map(|(&(_, identifier), &(granted, denied))| AclEntry { identifier, granted: Rights::from_bits(granted), denied: Rights::from_bits(denied) })
                        .collect();
                    expected.sort_by_key(|entry| entry.identifier);
                    assert_eq!(reader.acl(id).unwrap().unwrap().entries, expected);
                    for (index, &user) in ids.iter().enumerate() {
                        if !alive[index] {
                            continue;
                        }
                        let wanted = if user == owner {
                            Rights::ALL
                        } else {
                            let of = |identifier| model.get(&(id, identifier)).copied().unwrap_or((0, 0));
                            let (user, authenticated, anyone) = (of(Identifier::User(user)), of(Identifier::Authenticated), of(Identifier::Anyone));
                            Rights::from_bits((user.0 | authenticated.0 | anyone.0) & !(user.1 | authenticated.1 | anyone.1))
                        };
                        assert_eq!(reader.rights_of(user, id).unwrap(), Some(wanted));
                        let listed = reader.shared_with(user).unwrap().into_iter().find(|(mailbox, _)| *mailbox == id);
                        let expected = (user != owner && !wanted.is_empty()).then_some((id, wanted));
                        assert_eq!(listed, expected);
                    }
                }
                drop(reader);
                assert_clean(store);
            }
        });
    }
}

/// A \Noselect placeholder may carry an ACL (`l` on a parent); it goes
/// when the placeholder does, whichever way that happens.
#[test]
fn a_placeholder_loses_its_entries_when_removed_or_made_a_mailbox_again() {
    with_store(async |store| {
        let [alice, bob] = users(store, &["alice", "bob"]).await[..] else { unreachable!() };
        let look = change(Identifier::User(bob), FlagAction::Replace, "l");
        for name in ["A", "B"] {
            store.create_mailbox(alice, format!("{name}/child"), None).await.unwrap();
            store.execute(Op::DeleteMailbox { user: alice, name: name.into() }).await.ok();
            let placeholder = store.read().unwrap().mailbox_id(alice, name).unwrap().unwrap();
            assert!(store.read().unwrap().mailbox(placeholder).unwrap().unwrap().noselect);
            store.set_rights(placeholder, look).await.unwrap();
            assert_eq!(store.read().unwrap().shared_with(bob).unwrap(), [(placeholder, rights("l"))]);
            if name == "A" {
                // The last child goes, and the placeholder with it.
                store.execute(Op::DeleteMailbox { user: alice, name: "A/child".into() }).await.unwrap();
                assert_eq!(store.read().unwrap().mailbox_id(alice, "A").unwrap(), None);
            } else {
                // CREATE over the placeholder: a new mailbox, a new id, no entries.
                let created = store.create_mailbox(alice, "B".into(), None).await.unwrap();
                assert_ne!(created, placeholder);
                assert_eq!(store.read().unwrap().acl(created).unwrap().unwrap().entries, []);
            }
            assert_eq!(store.read().unwrap().acl(placeholder).unwrap(), None);
            assert_eq!(store.read().unwrap().shared_with(bob).unwrap(), []);
            assert_clean(store);
        }
    });
}

/// User ids stop below the reserved ones (`anyone`, `authenticated`, the
/// household): a login user never shares an id with them.
#[test]
fn user_ids_never_reach_the_reserved_range() {
    with_store(async |store| {
        let database = store.database();
        let transaction = database.begin_write().unwrap();
        let last = u64::from(schema::RESERVED_IDS) - 1;
        schema::META.open(&transaction).unwrap().insert("next_user_id", last).unwrap();
        transaction.commit().unwrap();
        let [last_user] = users(store, &["last"]).await[..] else { unreachable!() };
        assert_eq!(u64::from(last_user), last);
        let refused = store.execute(Op::AddUser { name: "one-too-many".into(), password_hash: "x".into() }).await;
        assert_eq!(refused, Err(StoreError::TooManyUsers));
        assert_eq!(store.read().unwrap().user("one-too-many").unwrap(), None);
    });
}

/// On a nearly full disk (below the board's `min_free_disk`) new mail and
/// new mailboxes are refused, but rights can still be changed: taking a
/// right away must not wait for space.
#[test]
fn rights_change_on_a_nearly_full_disk() {
    use std::sync::atomic::Ordering;
    let disk = SmallDisk::with_capacity(64 << 20);
    let (store, pump) = store_on(&disk, 2 << 20);
    run(&store, pump, async {
        let [alice, bob] = users(&store, &["alice", "bob"]).await[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        store.set_rights(bills, change(Identifier::User(bob), FlagAction::Replace, "lr")).await.unwrap();
        // 1 MiB left: under the 2 MiB reserve, above a quarter of it.
        let used = disk.capacity.load(Ordering::SeqCst) - disk.free();
        disk.capacity.store(used + (1 << 20), Ordering::SeqCst);
        assert_eq!(store.create_mailbox(alice, "More".into(), None).await, Err(StoreError::NoSpace));
        let revoked = store.set_rights(bills, RightsChange::delete(Identifier::User(bob), false)).await.unwrap();
        assert!(revoked.granted.is_empty());
        assert_eq!(store.read().unwrap().rights_of(bob, bills).unwrap(), Some(Rights::NONE));
    });
}

/// What a reader's own \Seen costs a walk over every message (FETCH 1:*
/// FLAGS): the record scan alone, then the same with the reader's row
/// looked up per message. Run by hand:
/// `cargo test --release --lib private_flags_cost -- --ignored --nocapture`.
#[test]
#[ignore = "a cost measurement; run by hand"]
fn private_flags_cost() {
    use super::schema::{MessageRecord, MESSAGES, PRIVATE_FLAGS};
    const COUNT: u32 = 100_000;
    with_store(async |store| {
        let [alice, bob] = users(store, &["alice", "bob"]).await[..] else { unreachable!() };
        let bills = store.create_mailbox(alice, "Bills".into(), None).await.unwrap();
        let record = MessageRecord {
            blob: 1,
            internal_date: crate::util::datetime::DateTime::now(),
            size: 5000,
            flags: Flags::SEEN,
            keywords: 0,
            modseq: 2,
        };
        let database = store.database();
        let transaction = database.begin_write().unwrap();
        {
            let mut messages = transaction.open_table(MESSAGES).unwrap();
            let mut private = PRIVATE_FLAGS.open(&transaction).unwrap();
            for uid in 1..=COUNT {
                messages.insert((bills, uid), record.encode().as_slice()).unwrap();
                if uid % 2 == 0 {
                    private.insert((bills, bob, uid), 3 | schema::PRIVATE_SEEN_BIT).unwrap();
                }
            }
        }
        transaction.commit().unwrap();
        for (label, reader) in [("owner (records only)", None), ("reader (records + own rows)", Some(bob))] {
            let mut best = std::time::Duration::MAX;
            for _ in 0..5 {
                let mut snapshot = Snapshot::new(database.clone());
                let started = std::time::Instant::now();
                let mut seen = 0u32;
                for uid in 1..=COUNT {
                    let message = snapshot.message_as(bills, uid, COUNT, reader).unwrap().unwrap();
                    seen += u32::from(message.flags.contains(Flags::SEEN));
                }
                best = best.min(started.elapsed());
                assert_eq!(seen, if reader.is_some() { COUNT / 2 } else { COUNT });
            }
            println!("{label}: {COUNT} messages in {} ms (best of 5)", best.as_millis());
        }
    });
}

/// `roost check` with the server stopped reads the file without writing:
/// a database an older roost wrote has none of the access tables yet, and
/// that is no damage (nothing is shared there).
#[test]
fn check_reads_a_database_from_before_the_access_tables() {
    use super::schema::{
        ACL, ACL_GRANTEES, PRIVATE_CHANGES, PRIVATE_FLAGS, PRIVATE_SEEN, PRIVATE_SEEN_MAILBOXES, SHARED_MODSEQ,
    };
    let directory = std::env::temp_dir().join(format!("roost-old-tables-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("roost.redb");
    run_offline(&path, 1 << 20, 0, async |store| {
        store.execute(Op::AddUser { name: "alice".into(), password_hash: "x".into() }).await
    })
    .unwrap();
    // The store thread closes the file once the last handle went.
    let database = (0..200)
        .find_map(|_| {
            redb::Database::create(&path).ok().or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(10));
                None
            })
        })
        .expect("the database reopens");
    let txn = database.begin_write().unwrap();
    txn.delete_table(ACL.raw()).unwrap();
    txn.delete_table(ACL_GRANTEES.raw()).unwrap();
    txn.delete_table(PRIVATE_SEEN.raw()).unwrap();
    txn.delete_table(PRIVATE_SEEN_MAILBOXES.raw()).unwrap();
    txn.delete_table(PRIVATE_FLAGS.raw()).unwrap();
    txn.delete_table(PRIVATE_CHANGES.raw()).unwrap();
    txn.delete_table(SHARED_MODSEQ.raw()).unwrap();
    txn.commit().unwrap();
    drop(database);
    let report = check_offline(&path, 1 << 20, false).unwrap();
    assert!(report.is_clean(), "{}", report.summary());
    let _ = std::fs::remove_dir_all(&directory);
}
