//! LIST and LSUB (RFC 3501 §6.3.8, §6.3.9), with the CHILDREN (RFC 3348)
//! and SPECIAL-USE (RFC 6154) attributes, and the extended LIST of
//! RFC 5258 / RFC 9051 §6.3.9 with LIST-STATUS (RFC 5819).
//!
//! # Namespaces (issue 15)
//!
//! Every form lists the user's tree (`imap::visible`): their own
//! mailboxes, the others' and the household's on which they hold `l` by
//! their visible names (`Shared/<owner>/...`, `Family/...`), and the
//! levels `Shared`, `Shared/<owner>`, `Family` (`\Noselect \HasChildren`)
//! when something visible lies below. `LIST "" *` includes those trees
//! (spec §2.2: iOS Mail and K-9 show only what `*` returns).
//!
//! - A mailbox without `l` is not in the tree. A visible child's parent
//!   that is not in it (hidden or never created: the user cannot tell
//!   them apart) is listed `\Noselect \HasChildren` where a pattern
//!   stops above the child (RFC 3501 §6.3.8, `%`), and never under `*`
//!   (RFC 4314 §4's example). \HasChildren counts visible children only.
//!   Decision: the extended LIST with no selection option draws the same
//!   line for it as plain LIST (RFC 5258 leaves `%` levels to RFC 3501).
//! - Special-use attributes only in the personal namespace (spec §2.3):
//!   `LIST (SPECIAL-USE)` selects none of the others'.
//! - LIST-STATUS answers only where the user holds `r` (RFC 4314 §4),
//!   with their own UNSEEN (`imap::status_line`).
//! - LSUB and `(SUBSCRIBED)` read the user's own subscription rows, which
//!   hold visible names; a subscribed name they cannot see is answered as
//!   one with no mailbox behind it (`\Noselect`, `\NonExistent`).
//! - The lookups of other users' mailboxes (one per ACL entry naming the
//!   user, `authenticated` or `anyone`) are paced like the rest: each step
//!   one short read transaction, closed before a yield. Measured (release
//!   build, shared 2-core VM): with 1000 of mom's mailboxes shared to
//!   `authenticated`, dad's `LIST "" *` took 3.8 ms (mom's own, the same
//!   1000 names: 3.8 ms), his `LIST "" * RETURN (STATUS (MESSAGES
//!   UNSEEN))` 9.6 ms (mom's: 6.3 ms), and a third user's NOOP sent
//!   during it at most 1.1 ms.
//!
//! # Fairness (issue 11)
//!
//! Every session shares one executor thread, so a LIST may not hold it for
//! long whatever its patterns and however many mailboxes the user has
//! (measured before this design: 60 never-matching patterns of 1000
//! characters over 1000 mailboxes ran 17 s without yielding, and every
//! other session waited as long).
//!
//! - **Matching is linear per name.** A pattern is compiled once per
//!   command into a bit-parallel NFA ([`Pattern`], Shift-And): one bit per
//!   pattern character, held in at most 16 `u64` words on the stack; `*`
//!   and `%` are self-looping states (`%` not across the delimiter). A name
//!   costs O(its length × live words) with no allocation, and stops early
//!   once no state is live. A name with fewer characters than the
//!   pattern's literals is refused without a look.
//! - **Work is budgeted by time, not by count.** The loops over mailboxes,
//!   patterns, records and output lines check the clock every few items
//!   and yield to the executor after about a millisecond of work
//!   ([`Budget`]). LIST stays on the executor rather than on a worker pool:
//!   with linear matching the whole command costs milliseconds, and the
//!   store's reads are cheap when split this way.
//! - **No snapshot across a write.** The names (and subscriptions) are read
//!   in one short read transaction; mailbox records are read afterwards in
//!   steps, each step its own read transaction, dropped before a yield. A
//!   mailbox deleted between the steps is left out, as one deleted just
//!   before the command would be. Output goes through the bounded write
//!   buffer and is flushed as it fills; LIST-STATUS reads each mailbox's
//!   status in its own short transaction before writing it.
//! - **Measured** (release build, x86 VM with 2 cores shared with other
//!   builds, load 6-9; 1000 mailboxes of ~200-byte names, `LIST ""
//!   (p1 ... p60)` with 1000-character never-matching patterns, a second
//!   user sending NOOP every 10 ms): before, 37-43 s for the LIST and one
//!   NOOP waiting as long; after, 0.17-0.52 s with 151-literal patterns
//!   whose states stay live over each name (`*q*q...*z*`), 3-27 ms with
//!   500-literal ones (refused by length). The NOOPs during the LIST
//!   took at most 4-20 ms in most runs, ~100 ms in two of nine (outside
//!   any LIST, 0.1-93 ms in the same runs): a LIST that keeps the process
//!   busy for half a second shares the two cores with every other build,
//!   and the kernel's time slices, not the executor, then set the wait.
//! - **Memory stays small.** Extended LIST compiles one pattern at a time
//!   (a compiled pattern holds one mask per distinct literal character, up
//!   to tens of KiB for a hostile 1024-byte pattern), and marks matches in
//!   a flag per candidate name.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::imap::encode;
use crate::imap::list_line::has_children;
use crate::imap::mailbox_name;
use crate::imap::session::{Session, Status};
use crate::imap::status_line as status;
use crate::imap::types::{ListArguments, ListOptions};
use crate::imap::visible::{Seen, Shown, Tree};
use crate::mail::rights::Rights;
use crate::store::{Store, StoreError, DELIMITER, INBOX};
use crate::util::mutf7;

/// Longest pattern accepted, in bytes (so at most this many characters).
const MAX_PATTERN: usize = 1024;
/// NFA state words for the longest pattern: one bit per character.
const STATE_WORDS: usize = MAX_PATTERN.div_ceil(64);
/// No literal of the pattern equals the character.
const NO_MASK: [u64; STATE_WORDS] = [0; STATE_WORDS];

/// Work between two yields to the executor, and how often the clock is
/// read (reading it costs about as much as matching a short name).
pub struct Budget {
    since: Instant,
    items: u32,
}

impl Budget {
    const SLICE: Duration = Duration::from_millis(1);
    const CHECK_EVERY: u32 = 4;

    pub fn new() -> Budget {
        Budget { since: Instant::now(), items: 0 }
    }

    /// Counts one item of work; true once the slice is used up (then the
    /// caller drops what it must not hold across a yield, and calls
    /// [`Budget::pause`]).
    pub fn spent(&mut self) -> bool {
        self.items += 1;
        if self.items < Self::CHECK_EVERY {
            return false;
        }
        self.items = 0;
        self.since.elapsed() >= Self::SLICE
    }

    /// Lets every other task run, then starts a new slice.
    pub async fn pause(&mut self) {
        smol::future::yield_now().await;
        self.since = Instant::now();
        self.items = 0;
    }

    /// Counts one item and yields if the slice is used up.
    pub async fn spend(&mut self) {
        if self.spent() {
            self.pause().await;
        }
    }
}

/// A LIST pattern compiled into a bit-parallel NFA (Shift-And).
///
/// Position `k` (bit `k` of the state) means "the first `k + 1` tokens of
/// the pattern match the name read so far". A literal position is entered
/// from position `k - 1` (or the start) on an equal character; a wildcard
/// position loops on itself (`%` not on the delimiter, RFC 3501 §6.3.8) and
/// is also entered without a character (a wildcard may match nothing).
/// Runs of wildcards are merged first (`%%` is `%`; a run holding a `*` is
/// `*`), so that empty step never chains: one shift does it.
pub struct Pattern {
    /// Positions: tokens of the merged pattern.
    length: usize,
    /// State words in use: `length` bits.
    words: usize,
    /// Literal tokens: a name needs at least as many characters.
    literals: usize,
    star: [u64; STATE_WORDS],
    percent: [u64; STATE_WORDS],
    /// For each distinct literal character, `words` words of the positions
    /// holding it.
    masks: Vec<u64>,
    /// Mask index + 1 of each ASCII character (0: not in the pattern).
    ascii: [u16; 128],
    /// Mask index of each other character, sorted for a binary search.
    other: Vec<(char, u16)>,
}

impl Pattern {
    /// Compiles `pattern`; None if it has more than [`MAX_PATTERN`] characters.
    pub fn compile(pattern: &str) -> Option<Pattern> {
        let mut tokens: Vec<char> = Vec::new();
        for character in pattern.chars() {
            let wild = matches!(character, '*' | '%');
            match tokens.last_mut() {
                // `*%`, `%*`, `**` match what `*` does; `%%` what `%` does.
                Some(last @ ('*' | '%')) if wild => {
                    if character == '*' {
                        *last = '*';
                    }
                }
                _ => tokens.push(character),
            }
        }
        if tokens.len() > MAX_PATTERN {
            return None;
        }
        let words = tokens.len().div_ceil(64);
        let mut compiled = Pattern {
            length: tokens.len(),
            words,
            literals: 0,
            star: [0; STATE_WORDS],
            percent: [0; STATE_WORDS],
            masks: Vec::new(),
            ascii: [0; 128],
            other: Vec::new(),
        };
        for (position, &token) in tokens.iter().enumerate() {
            let (word, bit) = (position / 64, 1u64 << (position % 64));
            match token {
                '*' => compiled.star[word] |= bit,
                '%' => compiled.percent[word] |= bit,
                literal => {
                    compiled.literals += 1;
                    let index = if let Some(index) = compiled.mask_index(literal) {
                        index
                    } else {
                        let index = compiled.masks.len() / words;
                        compiled.masks.resize(compiled.masks.len() + words, 0);
                        if literal.is_ascii() {
                            compiled.ascii[literal as usize] = index as u16 + 1;
                        } else {
                            let at = compiled.other.partition_point(|&(known, _)| known < literal);
                            compiled.other.insert(at, (literal, index as u16));
                        }
                        index
                    };
                    compiled.masks[index * words + word] |= bit;
                }
            }
        }
        Some(compiled)
    }

    fn mask_index(&self, character: char) -> Option<usize> {
        if character.is_ascii() {
            let index = self.ascii[character as usize];
            (index != 0).then(|| index as usize - 1)
        } else {
            let at = self.other.binary_search_by_key(&character, |&(known, _)| known).ok()?;
            Some(self.other[at].1 as usize)
        }
    }

    fn mask(&self, index: usize) -> &[u64] {
        &self.masks[index * self.words..(index + 1) * self.words]
    }

    /// Whether `name` matches. Its first `case_insensitive` characters
    /// compare without ASCII case (the INBOX prefix).
    pub fn matches(&self, name: &str, case_insensitive: usize) -> bool {
        if self.length == 0 {
            return name.is_empty();
        }
        // Each literal takes one character, and a character is at least a byte.
        if self.literals > name.len() {
            return false;
        }
        let words = self.words;
        let wild = |word: usize| self.star[word] | self.percent[word];
        let mut state = [0u64; STATE_WORDS];
        // Before the first character only the start is live, and a leading
        // wildcard entered without a character.
        state[0] = wild(0) & 1;
        let mut start = 1u64;
        // Live bits lie in words low..high; a step moves them at most two
        // positions up (one character, then one empty wildcard step).
        let (mut low, mut high) = (0, 1);
        let mut folded = [0u64; STATE_WORDS];
        for (index, character) in name.chars().enumerate() {
            let fold = index < case_insensitive && character.is_ascii_alphabetic();
            let literal: &[u64] = if fold {
                let lower = self.mask_index(character.to_ascii_lowercase());
                let upper = self.mask_index(character.to_ascii_uppercase());
                match (lower, upper) {
                    (Some(lower), Some(upper)) => {
                        for (word, out) in folded[..words].iter_mut().enumerate() {
                            *out = self.mask(lower)[word] | self.mask(upper)[word];
                        }
                        &folded[..words]
                    }
                    (Some(one), None) | (None, Some(one)) => self.mask(one),
                    (None, None) => &NO_MASK[..words],
                }
            } else {
                self.mask_index(character).map_or(&NO_MASK[..words], |index| self.mask(index))
            };
            let top = (high + 1).min(words);
            let percent_loops = character != DELIMITER;
            // The character: literals advance, wildcards loop.
            let mut carry = start;
            start = 0;
            for (word, slot) in (low..top).zip(state[low..top].iter_mut()) {
                let old = *slot;
                let looping = self.star[word] | if percent_loops { self.percent[word] } else { 0 };
                *slot = (((old << 1) | carry) & literal[word]) | (old & looping);
                carry = old >> 63;
            }
            // The empty step into a wildcard that follows a live position.
            let mut carry = 0;
            let (mut first_live, mut last_live) = (None, 0);
            for (word, slot) in (low..top).zip(state[low..top].iter_mut()) {
                let current = *slot;
                let next = current | (((current << 1) | carry) & wild(word));
                *slot = next;
                carry = current >> 63;
                if next != 0 {
                    first_live.get_or_insert(word);
                    last_live = word;
                }
            }
            let Some(first_live) = first_live else { return false };
            (low, high) = (first_live, last_live + 1);
        }
        let last = self.length - 1;
        state[last / 64] >> (last % 64) & 1 == 1
    }
}

/// Whether `name` matches `pattern`, with the INBOX of a name matched
/// case-insensitively (RFC 3501 §5.1), so "inbox", "Inbox/%" and "inb*"
/// all find INBOX.
fn matches_name(pattern: &Pattern, name: &str) -> bool {
    let is_inbox = name == INBOX || name.starts_with("INBOX/");
    pattern.matches(name, if is_inbox { INBOX.len() } else { 0 })
}

pub async fn run(session: &mut Session, tag: &str, user: u32, arguments: ListArguments) -> io::Result<()> {
    let ListArguments { reference, patterns, subscribed_only, options } = arguments;
    let (reference, patterns) = (reference.as_slice(), patterns.as_slice());
    let command = if subscribed_only { "LSUB" } else { "LIST" };
    if let Some(text) = options.as_ref().and_then(|options| status::refused_item(session, options.status.as_deref()?)) {
        session.tagged(tag, Status::Bad, None, text);
        return Ok(());
    }
    if let [pattern] = patterns {
        if pattern.is_empty() {
            // RFC 3501: an empty pattern asks for the delimiter and the root.
            let line = format!("* {command} (\\Noselect) \"{DELIMITER}\" \"\"\r\n");
            session.conn.write(line.as_bytes());
            return session.finish(tag, Status::Ok, None, &format!("{command} completed")).await;
        }
    }
    let utf8 = session.utf8_names();
    let decode = |bytes: &[u8]| -> Result<String, String> {
        if utf8 {
            // RFC 9051 §5.1: UTF-8 names once IMAP4rev2 is enabled.
            String::from_utf8(bytes.to_vec()).map_err(|_| "Pattern is not valid UTF-8".to_string())
        } else {
            mutf7::decode(bytes).map_err(|error| format!("Pattern is not valid modified UTF-7: {error}"))
        }
        .map(mailbox_name::nfc)
    };
    let mut full_patterns = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        match decode(reference).and_then(|reference| decode(pattern).map(|pattern| reference + &pattern)) {
            Ok(text) if text.len() <= MAX_PATTERN => full_patterns.push(text),
            Ok(_) => {
                session.tagged(tag, Status::Bad, None, "Pattern too long");
                return Ok(());
            }
            // Not a mailbox name (not valid modified UTF-7): no mailbox
            // matches it. The command is valid (an astring), so not BAD
            // (RFC 3501 §7.1); Dovecot also answers OK with nothing.
            Err(text) => log::debug!("LIST pattern matches nothing: {text}"),
        }
    }
    if full_patterns.is_empty() {
        return session.finish(tag, Status::Ok, None, &format!("{command} completed")).await;
    }
    let store = session.server.store.clone();
    let mut budget = Budget::new();
    let listed = match &options {
        None => {
            // Checked above: at most MAX_PATTERN bytes, so as many characters.
            let Some(pattern) = Pattern::compile(&full_patterns[0]) else {
                return session.finish(tag, Status::Bad, None, "Pattern too long").await;
            };
            list(&store, user, &pattern, subscribed_only, &mut budget).await
        }
        Some(options) => list_extended(&store, user, &full_patterns, options, &mut budget).await,
    };
    let listed = match listed {
        Ok(listed) => listed,
        Err(error) => return session.store_failed(tag, error, false).await,
    };
    let status_items = options.as_ref().and_then(|options| options.status.as_deref());
    for entry in listed {
        let out = session.conn.out();
        out.extend_from_slice(format!("* {command} ({}) \"{DELIMITER}\" ", entry.attributes).as_bytes());
        encode::mailbox_for(out, &entry.name, utf8);
        if entry.child_info {
            // RFC 5258 §4: a descendant meets the selection criteria.
            out.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        }
        out.extend_from_slice(b"\r\n");
        if let (Some(items), Some(id)) = (status_items, entry.selectable) {
            // RFC 5819 §2: STATUS right after the LIST of each selectable
            // mailbox; one whose status cannot be read is left without.
            // `read` closes its read transaction before the line is written.
            if let Ok((record, counted)) = status::read(session, user, id, items) {
                status::write(session, &entry.name, id, &record, counted, items);
            }
        }
        session.conn.flush_if_full().await?;
        budget.spend().await;
    }
    session.finish(tag, Status::Ok, None, &format!("{command} completed")).await
}

/// One LIST or LSUB response to send.
struct Listed {
    attributes: String,
    name: String,
    /// The mailbox id, if it can be selected and the user may read it
    /// (LIST-STATUS answers for it: RFC 4314 §4, STATUS needs `r`).
    selectable: Option<u64>,
    child_info: bool,
}

impl Listed {
    fn new(attributes: String, name: String) -> Listed {
        Listed { attributes, name, selectable: None, child_info: false }
    }
}

/// The attributes of a namespace level (`Shared`, `Shared/<owner>`,
/// `Family`) and of a parent the user cannot see whose child they can:
/// never a mailbox, and listed only with something visible below.
const LEVEL: &str = "\\Noselect \\HasChildren";

/// The user's tree (`imap::visible`), its lookups of other users'
/// mailboxes paced: each step is one read transaction, closed before
/// yielding.
async fn tree(store: &Store, user: u32, subscriptions: bool, budget: &mut Budget) -> Result<Tree, StoreError> {
    let (mut tree, pending) = Tree::start(&store.read()?, user, subscriptions)?;
    let mut reader = None;
    for &id in &pending.candidates {
        let current = match &reader {
            Some(current) => current,
            None => reader.insert(store.read()?),
        };
        tree.add_candidate(current, &pending, id)?;
        if budget.spent() {
            reader = None;
            budget.pause().await;
        }
    }
    Ok(tree)
}

/// Reads the records of the personal mailboxes `names` (those of others
/// were read when looked up) in steps, each step one read transaction
/// closed before yielding. A mailbox deleted between the steps leaves the
/// tree, as one deleted just before the command would have.
async fn read_shown(store: &Store, tree: &mut Tree, names: &[String], budget: &mut Budget) -> Result<(), StoreError> {
    let wanted: Vec<(&String, u64)> = names
        .iter()
        .filter_map(|name| tree.mailboxes.get(name).filter(|seen| seen.shown.is_none()).map(|seen| (name, seen.id)))
        .collect();
    let mut shown = Vec::with_capacity(wanted.len());
    let mut reader = None;
    for &(_, id) in &wanted {
        let current = match &reader {
            Some(current) => current,
            None => reader.insert(store.read()?),
        };
        let record = current.mailbox(id)?;
        shown.push(record.map(|record| Shown { noselect: record.noselect, special_use: record.special_use }));
        if budget.spent() {
            reader = None;
            budget.pause().await;
        }
    }
    let found: Vec<(String, Option<Shown>)> =
        wanted.into_iter().zip(shown).map(|((name, _), shown)| (name.clone(), shown)).collect();
    for (name, shown) in found {
        match shown {
            Some(shown) => {
                if let Some(seen) = tree.mailboxes.get_mut(&name) {
                    seen.shown = Some(shown);
                }
            }
            None => {
                tree.mailboxes.remove(&name);
            }
        }
    }
    Ok(())
}

/// A mailbox's attributes: \Noselect, the children one, and the special
/// use (personal mailboxes only, see `imap::visible`).
fn record_attributes(shown: Shown, attributes: &mut Vec<&'static str>, children: bool) {
    if shown.noselect {
        attributes.push("\\Noselect");
    }
    attributes.push(if children { "\\HasChildren" } else { "\\HasNoChildren" });
    // None outside the personal namespace (`imap::visible`).
    if let Some(special_use) = shown.special_use {
        attributes.push(special_use.attribute());
    }
}

/// The id LIST-STATUS may answer for: a selectable mailbox the user may read.
fn status_id(seen: &Seen, shown: Shown) -> Option<u64> {
    (!shown.noselect && seen.rights.contains(Rights::STATUS)).then_some(seen.id)
}

/// INBOX first, then by name, as clients show them.
fn sort(listed: &mut [Listed]) {
    listed.sort_by(|left, right| (left.name != INBOX, &left.name).cmp(&(right.name != INBOX, &right.name)));
}

/// (attributes, name) of every mailbox (or subscription) matching, INBOX
/// first: the LIST and LSUB of RFC 3501, unchanged for IMAP4rev1 clients.
/// Over the user's tree (`imap::visible`): their own mailboxes, those of
/// others they may `l`, and the namespace levels above those.
async fn list(
    store: &Rc<Store>,
    user: u32,
    pattern: &Pattern,
    subscribed_only: bool,
    budget: &mut Budget,
) -> Result<Vec<Listed>, StoreError> {
    let mut tree = tree(store, user, subscribed_only, budget).await?;
    let mut listed = Vec::new();
    if subscribed_only {
        // RFC 4314 §4 (LSUB needs `l`): a subscribed name the user cannot
        // see is a subscribed name with no mailbox behind it.
        let subscribed: BTreeSet<&str> = tree.subscriptions.iter().map(String::as_str).collect();
        let mut seen = BTreeSet::new();
        for name in &tree.subscriptions {
            budget.spend().await;
            let selectable = tree.mailboxes.contains_key(name.as_str());
            if matches_name(pattern, name) {
                if seen.insert(name.clone()) {
                    let attributes = if selectable { "" } else { "\\Noselect" };
                    listed.push(Listed::new(attributes.to_string(), name.clone()));
                }
                continue;
            }
            // RFC 3501 §6.3.9: when `%` stops short of a subscribed child,
            // its unsubscribed parent is listed as \Noselect.
            for (index, _) in name.match_indices(DELIMITER) {
                let parent = &name[..index];
                if !subscribed.contains(parent) && matches_name(pattern, parent) && seen.insert(parent.to_string()) {
                    listed.push(Listed::new("\\Noselect".to_string(), parent.to_string()));
                }
            }
        }
    } else {
        let mut matched = Vec::new();
        let mut gaps = gap_parents(&tree, |name| matches_name(pattern, name), budget, Some(&mut matched)).await;
        for level in &tree.levels {
            budget.spend().await;
            if matches_name(pattern, level) {
                gaps.push(level.clone());
            }
        }
        read_shown(store, &mut tree, &matched, budget).await?;
        let names = tree.names();
        for name in matched {
            let Some(seen) = tree.mailboxes.get(&name) else { continue };
            let Some(shown) = seen.shown else { continue };
            let mut attributes = Vec::new();
            record_attributes(shown, &mut attributes, has_children(&names, &name));
            listed.push(Listed::new(attributes.join(" "), name));
        }
        listed.extend(gaps.into_iter().map(|name| Listed::new(LEVEL.to_string(), name)));
    }
    sort(&mut listed);
    Ok(listed)
}

/// The parents the user cannot see (hidden, or never created: the same to
/// them) that `matches` takes while their visible child is not taken: the
/// RFC 3501 §6.3.8 rule for `%` ("matching levels of hierarchy are also
/// returned ... with the \Noselect attribute"). The names `matches` takes
/// go to `matched` when given.
async fn gap_parents(
    tree: &Tree,
    matches: impl Fn(&str) -> bool,
    budget: &mut Budget,
    mut matched: Option<&mut Vec<String>>,
) -> Vec<String> {
    let mut tried: BTreeSet<&str> = BTreeSet::new();
    let mut gaps = Vec::new();
    for name in tree.mailboxes.keys() {
        budget.spend().await;
        if matches(name) {
            if let Some(matched) = matched.as_deref_mut() {
                matched.push(name.clone());
            }
            continue;
        }
        for gap in tree.gaps(name) {
            if tried.insert(gap) && matches(gap) {
                gaps.push(gap.to_string());
            }
        }
    }
    gaps
}

/// The extended LIST of RFC 5258 (RFC 9051 §6.3.9): selection by
/// subscription and special use, \NonExistent for subscribed names that
/// are not mailboxes, \Subscribed on request, CHILDINFO with RECURSIVEMATCH.
/// \HasChildren / \HasNoChildren and special-use attributes always go out,
/// as in plain LIST (RFC 5258 §3.4 and RFC 6154 §2 allow that). Over the
/// same tree as plain LIST: a name the user cannot see is answered as one
/// that does not exist (`(\Subscribed \NonExistent)` when subscribed).
async fn list_extended(
    store: &Rc<Store>,
    user: u32,
    patterns: &[String],
    options: &ListOptions,
    budget: &mut Budget,
) -> Result<Vec<Listed>, StoreError> {
    let mut tree = tree(store, user, true, budget).await?;
    let subscriptions = std::mem::take(&mut tree.subscriptions);
    let subscribed: BTreeSet<&str> = subscriptions.iter().map(String::as_str).collect();
    // Only the mailboxes that may be listed are read.
    let wanted: Vec<String> = tree
        .mailboxes
        .keys()
        .filter(|name| !options.subscribed || subscribed.contains(name.as_str()) || options.recursive_match)
        .cloned()
        .collect();
    read_shown(store, &mut tree, &wanted, budget).await?;
    let level = Shown { noselect: true, special_use: None };
    let mut records: BTreeMap<&str, (Option<&Seen>, Shown)> = BTreeMap::new();
    for (name, seen) in &tree.mailboxes {
        if let Some(shown) = seen.shown {
            records.insert(name, (Some(seen), shown));
        }
    }
    for name in &tree.levels {
        records.insert(name, (None, level));
    }
    let names = tree.names();
    let selected = |name: &str| {
        let special_use = records.get(name).is_some_and(|(_, shown)| shown.special_use.is_some());
        let exists = records.contains_key(name);
        (if options.subscribed { subscribed.contains(name) } else { exists }) && (!options.special_use || special_use)
    };
    // The names that could be listed: mailboxes and levels, and
    // subscriptions when selecting by them (with their parents for
    // RECURSIVEMATCH).
    let mut candidates: BTreeSet<&str> = names.clone();
    let mut selected_parents: BTreeSet<&str> = BTreeSet::new();
    if options.subscribed {
        candidates.extend(subscribed.iter().copied());
    }
    if options.recursive_match {
        for name in candidates.iter().copied().filter(|name| selected(name)).collect::<Vec<_>>() {
            budget.spend().await;
            for (index, _) in name.match_indices(DELIMITER) {
                selected_parents.insert(&name[..index]);
            }
        }
        candidates.extend(selected_parents.iter().copied());
    }
    // One pattern compiled at a time (see the module docs on memory); a
    // name already matched is not tried again.
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let mut matched = vec![false; candidates.len()];
    let mut gaps = BTreeSet::new();
    for text in patterns {
        // Checked by the caller: at most MAX_PATTERN bytes, so as many characters.
        let Some(pattern) = Pattern::compile(text) else { continue };
        for (name, matched) in candidates.iter().zip(matched.iter_mut()) {
            if !*matched {
                *matched = matches_name(&pattern, name);
                budget.spend().await;
            }
        }
        if !options.subscribed && !options.special_use {
            // Plain selection: the RFC 3501 `%` rule, as in plain LIST.
            gaps.extend(gap_parents(&tree, |name| matches_name(&pattern, name), budget, None).await);
        }
    }
    let mut listed = Vec::new();
    for (&name, _) in candidates.iter().zip(matched).filter(|(_, matched)| *matched) {
        let child_info = selected_parents.contains(name);
        if !selected(name) && !child_info {
            continue;
        }
        gaps.remove(name);
        let mut attributes = Vec::new();
        let record = records.get(name);
        match record {
            // RFC 5258 §3.4: \NonExistent (which implies \Noselect).
            None => attributes.push("\\NonExistent"),
            Some((_, shown)) if shown.noselect => attributes.push("\\Noselect"),
            Some(_) => {}
        }
        if options.return_subscribed && subscribed.contains(name) {
            attributes.push("\\Subscribed");
        }
        if has_children(&names, name) {
            attributes.push("\\HasChildren");
        } else if record.is_some() {
            attributes.push("\\HasNoChildren");
        }
        if let Some(special_use) = record.and_then(|(_, shown)| shown.special_use) {
            attributes.push(special_use.attribute());
        }
        let selectable = record.and_then(|(seen, shown)| status_id((*seen)?, *shown));
        listed.push(Listed { attributes: attributes.join(" "), name: name.to_string(), selectable, child_info });
    }
    listed.extend(gaps.into_iter().map(|name| Listed::new(LEVEL.to_string(), name)));
    sort(&mut listed);
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The matcher this module used before the NFA: a dynamic program over
    /// (pattern prefix, name prefix), allocating per pattern character.
    /// Kept as the oracle the NFA is checked against.
    fn oracle(pattern: &[char], name: &[char], case_insensitive: usize) -> bool {
        // reachable[j]: the pattern consumed so far can match name[..j].
        let mut reachable = vec![false; name.len() + 1];
        reachable[0] = true;
        for &token in pattern {
            let mut next = vec![false; name.len() + 1];
            match token {
                '*' | '%' => {
                    let mut open = false;
                    for j in 0..=name.len() {
                        if reachable[j] {
                            open = true;
                        }
                        next[j] = open;
                        if token == '%' && j < name.len() && name[j] == DELIMITER {
                            // `%` cannot carry a match past a delimiter.
                            open = false;
                        }
                    }
                }
                literal => {
                    for j in 0..name.len() {
                        let equal =
                            name[j] == literal || (j < case_insensitive && name[j].eq_ignore_ascii_case(&literal));
                        if reachable[j] && equal {
                            next[j + 1] = true;
                        }
                    }
                }
            }
            reachable = next;
        }
        reachable[name.len()]
    }

    fn oracle_name(pattern: &str, name: &str) -> bool {
        let is_inbox = name == INBOX || name.starts_with("INBOX/");
        let pattern: Vec<char> = pattern.chars().collect();
        let name: Vec<char> = name.chars().collect();
        oracle(&pattern, &name, if is_inbox { INBOX.len() } else { 0 })
    }

    fn check(pattern: &str, name: &str) -> bool {
        let found = matches_name(&Pattern::compile(pattern).unwrap(), name);
        assert_eq!(found, oracle_name(pattern, name), "{pattern:?} against {name:?}");
        found
    }

    #[test]
    fn wildcards() {
        assert!(check("*", "a/b/c"));
        assert!(check("%", "a"));
        assert!(!check("%", "a/b"));
        assert!(check("a/%", "a/b"));
        assert!(!check("a/%", "a/b/c"));
        assert!(check("a/*", "a/b/c"));
        assert!(check("a*c", "a/b/c"));
        assert!(!check("a%c", "a/b/c"));
        assert!(check("%/%", "a/b"));
        assert!(check("Arch%", "Archive"));
        assert!(!check("arch%", "Archive"));
        assert!(check("", "") && !check("", "a"));
        assert!(check("%%", "") && check("*%", "a/b") && !check("%%", "a/b") && check("%*%", "a/b"));
        assert!(check("a%/%b", "a/b") && check("a%/%b", "ax/yb") && !check("a%/%b", "a/x/b"));
    }

    #[test]
    fn inbox_is_case_insensitive() {
        assert!(check("inbox", "INBOX"));
        assert!(check("Inbox/%", "INBOX/Work"));
        assert!(check("inb*", "INBOX"));
        assert!(!check("inbox", "Inbox2"));
        assert!(!check("arch*", "Archive"), "only INBOX folds case");
        assert!(!check("inbox/work", "INBOX/Work"), "only the INBOX part folds case");
    }

    #[test]
    fn non_ascii_names() {
        assert!(check("Entwürfe", "Entwürfe"));
        assert!(check("Entw%rfe", "Entwürfe"));
        assert!(!check("Entwurfe", "Entwürfe"));
        assert!(check("*é*", "Café/Thé") && !check("*ü*", "Café"));
    }

    #[test]
    fn long_patterns_cross_state_words() {
        // 200 literals and wildcards: the live states move through 7 words.
        let name: String =
            (0..150).map(|index| if index % 10 == 9 { '/' } else { (b'a' + index % 7) as char }).collect();
        let mut pattern = String::new();
        for (index, character) in name.chars().enumerate() {
            pattern.push(character);
            if index % 3 == 0 {
                pattern.push(if index % 2 == 0 { '*' } else { '%' });
            }
        }
        assert!(check(&pattern, &name));
        assert!(!check(&format!("{pattern}x"), &name));
        assert!(check(&"*".repeat(1000), &name));
        assert!(!check(&"%".repeat(1000), &name));
        assert!(Pattern::compile(&"a".repeat(MAX_PATTERN)).is_some());
        assert!(Pattern::compile(&"a".repeat(MAX_PATTERN + 1)).is_none());
        let pattern = "a".repeat(MAX_PATTERN);
        assert!(check(&pattern, &"a".repeat(MAX_PATTERN)) && !check(&pattern, &"a".repeat(MAX_PATTERN - 1)));
        // 511 `%a` pairs against 600 characters with delimiters: no match,
        // whatever the pattern's 16 words do.
        let pattern = format!("{}b", "%a".repeat(MAX_PATTERN / 2 - 1));
        assert!(!check(&pattern, &format!("{}b", "aa/".repeat(200))));
        assert!(check(&pattern, &format!("{}b", "a".repeat(600))));
    }

    #[test]
    fn hostile_patterns_are_answered() {
        // Exponential with backtracking, linear here.
        let name = format!("{}b", "a/".repeat(250));
        assert!(check(&"*%".repeat(500), &name));
        assert!(!check(&"%a".repeat(300), &name));
    }

    fn pattern_text() -> impl Strategy<Value = String> {
        let token = prop::sample::select(vec!['a', 'b', 'I', 'n', 'B', 'x', 'é', '/', '*', '%', '*', '%']);
        (prop::collection::vec(token, 0..24), any::<bool>(), any::<u8>()).prop_map(|(tokens, inbox, case)| {
            let body: String = tokens.into_iter().collect();
            if !inbox {
                return body;
            }
            let prefix: String = "inbox"
                .chars()
                .enumerate()
                .map(|(index, c)| if case >> index & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            prefix + &body
        })
    }

    fn name_text() -> impl Strategy<Value = String> {
        let character = prop::sample::select(vec!['a', 'b', 'I', 'n', 'N', 'B', 'x', 'é', '/']);
        (prop::collection::vec(character, 0..20), any::<bool>()).prop_map(|(characters, inbox)| {
            let body: String = characters.into_iter().collect();
            if inbox {
                format!("INBOX{body}")
            } else {
                body
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        #[test]
        fn nfa_agrees_with_the_dynamic_program(pattern in pattern_text(), name in name_text(), case_insensitive in 0usize..8) {
            let compiled = Pattern::compile(&pattern).unwrap();
            let pattern_chars: Vec<char> = pattern.chars().collect();
            let name_chars: Vec<char> = name.chars().collect();
            prop_assert_eq!(
                compiled.matches(&name, case_insensitive),
                oracle(&pattern_chars, &name_chars, case_insensitive),
                "{:?} against {:?}", pattern, name
            );
            prop_assert_eq!(matches_name(&compiled, &name), oracle_name(&pattern, &name));
        }

        #[test]
        fn nfa_agrees_on_long_inputs(
            pattern in prop::collection::vec(prop::sample::select(vec!['a', 'b', '/', '*', '%']), 60..300),
            name in prop::collection::vec(prop::sample::select(vec!['a', 'b', '/']), 0..200),
        ) {
            let pattern: String = pattern.into_iter().collect();
            let name: String = name.into_iter().collect();
            let compiled = Pattern::compile(&pattern).unwrap();
            prop_assert_eq!(compiled.matches(&name, 0), oracle_name(&pattern, &name), "{:?} against {:?}", pattern, name);
        }
    }
}
