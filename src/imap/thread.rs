//! THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES, as pure functions,
//! and the thread-list syntax of RFC 5256 §4.
//!
//! Messages are fed one at a time ([`Threader::add`], in ascending
//! sequence order, as RFC 5256 reads "the first message" of a duplicated
//! Message-ID), so the caller never holds every message's header values
//! at once; [`Threader::finish`] builds the threads.
//!
//! Memory, per message added: a 32-byte record (sent date, sequence,
//! output number, subject hash, flags); for REFERENCES also a 20-byte tree
//! node and one hash-table slot (about 24 bytes at the table's load) for
//! its Message-ID, plus a node and a slot for each referenced Message-ID
//! not in the mailbox (a "dummy"). About 100 bytes a message, 10 MB for
//! 100,000, whatever the length of the header fields.
//!
//! Message-IDs and base subjects are kept as 64-bit SipHash values under
//! a key drawn at random for each THREAD command (std's `RandomState`), not
//! as strings. Two different IDs colliding would link two unrelated
//! messages; the chance for a mailbox with a million distinct IDs is about
//! 10^12 / 2^65, below 10^-7 per command, and as the key is secret and
//! changes each time, a sender cannot craft a collision. The same holds
//! for base subjects (a collision would merge two threads).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use crate::imap::sort::{casemap, sent_date, SortInput};
use crate::mime::subject::base_subject;

/// The threading algorithms of RFC 5256 §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// THREAD=ORDEREDSUBJECT: one level, by base subject.
    OrderedSubject,
    /// THREAD=REFERENCES: by Message-ID links, then by base subject.
    References,
}

/// Which number a thread names a message by: THREAD answers sequence
/// numbers, UID THREAD answers UIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// Message sequence numbers (THREAD).
    Sequence,
    /// UIDs (UID THREAD).
    Uid,
}

/// One node of a thread tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadNode {
    /// The message's sequence number or UID; `None` for a dummy (a parent
    /// that is not in the result, RFC 5256 §3 REFERENCES step 5).
    pub message: Option<u32>,
    /// How many children follow (in pre-order) under this node.
    pub children: u32,
}

/// One thread: its tree stored flat in pre-order (a node, then its
/// children's subtrees, oldest first), so neither building, rendering nor
/// dropping a very deep thread recurses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    nodes: Vec<ThreadNode>,
}

impl Thread {
    /// The nodes in pre-order; the first is the thread's root.
    #[cfg(test)]
    pub fn nodes(&self) -> &[ThreadNode] {
        &self.nodes
    }

    /// The messages of the thread in pre-order (dummies left out).
    #[cfg(test)]
    pub fn messages(&self) -> impl Iterator<Item = u32> + '_ {
        self.nodes.iter().filter_map(|node| node.message)
    }
}

/// Most Message-IDs taken from one References field: its first (the
/// thread's root) and its last ones (the nearest ancestors). Real fields
/// hold a few dozen at most; the cap bounds the work one message causes.
pub const REFERENCES_LIMIT: usize = 64;

/// Most parent links followed when checking one new link for a loop
/// (RFC 5256 §3 REFERENCES step 1: "do not create a parent/child link if
/// creating that link would introduce a loop"). A link whose check runs
/// out is refused as if it made a loop: only a thread deeper than this
/// (no real one is) can lose a link to it.
pub const ANCESTOR_WALK_LIMIT: usize = 1024;

/// Most parent links followed for all the References links of one
/// message together, so one hostile message cannot cost
/// `REFERENCES_LIMIT * ANCESTOR_WALK_LIMIT` steps. The link to the
/// message's own parent has its own [`ANCESTOR_WALK_LIMIT`].
pub const REFERENCES_WALK_BUDGET: usize = 4096;

/// No node: the end of a list, or no parent.
const NONE: u32 = u32::MAX;

/// What threading keeps of one message.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// RFC 5256 §2.2 sent date, seconds since the epoch.
    sent: i64,
    sequence: u32,
    /// The number that is output (sequence number or UID).
    number: u32,
    /// Keyed hash of the casemapped base subject (when not empty).
    subject: u64,
    has_subject: bool,
    reply_or_forward: bool,
}

/// A REFERENCES tree node: a message, or a dummy for a Message-ID only
/// seen in References/In-Reply-To (or made in step 5). Children form a
/// doubly linked list so a message can be moved to a new parent in O(1).
#[derive(Debug, Clone, Copy)]
struct Node {
    parent: u32,
    first_child: u32,
    next: u32,
    previous: u32,
    /// Index into `entries`, or `NONE` for a dummy.
    entry: u32,
}

impl Node {
    fn new(entry: u32) -> Node {
        Node { parent: NONE, first_child: NONE, next: NONE, previous: NONE, entry }
    }
}

/// Builds threads from messages added one at a time.
pub struct Threader {
    algorithm: ThreadAlgorithm,
    numbering: Numbering,
    keys: RandomState,
    entries: Vec<Entry>,
    /// REFERENCES only: the tree, and Message-ID hash → node.
    nodes: Vec<Node>,
    ids: HashMap<u64, u32>,
}

impl Threader {
    /// An empty threader; messages are numbered in the output as `numbering` says.
    pub fn new(algorithm: ThreadAlgorithm, numbering: Numbering) -> Threader {
        Threader {
            algorithm,
            numbering,
            keys: RandomState::new(),
            entries: Vec::new(),
            nodes: Vec::new(),
            ids: HashMap::new(),
        }
    }

    /// Adds one message. Messages must come in ascending sequence order
    /// (a Message-ID belongs to the first message that has it).
    ///
    /// Reads `sequence`, `uid`, `internal_date`, `date` and `subject`, and
    /// for REFERENCES `message_id`, `references` and `in_reply_to`.
    pub fn add(&mut self, message: &SortInput) {
        if self.entries.len() >= NONE as usize - 1
            || self.nodes.len() >= (NONE as usize).saturating_sub(2 + REFERENCES_LIMIT)
        {
            // More than four billion messages: not a mailbox this server
            // can hold; ignore rather than overflow the u32 indexes.
            return;
        }
        let (subject, reply_or_forward) = message.subject.as_deref().map_or((String::new(), false), base_subject);
        let entry = Entry {
            sent: sent_date(message.date.as_deref(), message.internal_date),
            sequence: message.sequence,
            number: match self.numbering {
                Numbering::Sequence => message.sequence,
                Numbering::Uid => message.uid,
            },
            subject: self.hash(casemap(&subject).as_bytes()),
            has_subject: !subject.is_empty(),
            reply_or_forward,
        };
        let index = self.entries.len() as u32;
        self.entries.push(entry);
        if self.algorithm == ThreadAlgorithm::References {
            self.link(index, message);
        }
    }

    /// The threads, oldest first (by the sent date of each thread's first
    /// message, RFC 5256 §3).
    /// Messages added so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn finish(self) -> Vec<Thread> {
        match self.algorithm {
            ThreadAlgorithm::OrderedSubject => self.ordered_subject(),
            ThreadAlgorithm::References => self.references(),
        }
    }

    fn hash(&self, bytes: &[u8]) -> u64 {
        let mut hasher = self.keys.build_hasher();
        hasher.write(bytes);
        hasher.finish()
    }

    /// ORDEREDSUBJECT: messages grouped by base subject; in each group the
    /// oldest is the root and every other message its child, oldest first;
    /// groups ordered by their root's date. (Sorting by subject first, as
    /// the RFC words it, changes nothing the output shows, so groups are
    /// found by hash instead.) Messages with an empty base subject form one
    /// group, as a sort by subject puts them together.
    fn ordered_subject(self) -> Vec<Thread> {
        let mut order: Vec<u32> = (0..self.entries.len() as u32).collect();
        let entries = &self.entries;
        order.sort_by_key(|&index| {
            let entry = &entries[index as usize];
            (entry.has_subject, entry.subject, entry.sent, entry.sequence)
        });
        let mut threads = Vec::new();
        let mut start = 0;
        while start < order.len() {
            let first = &entries[order[start] as usize];
            let length = order[start..]
                .iter()
                .take_while(|&&index| {
                    let entry = &entries[index as usize];
                    (entry.has_subject, entry.subject) == (first.has_subject, first.subject)
                })
                .count();
            let group = &order[start..start + length];
            let mut nodes = Vec::with_capacity(group.len());
            nodes.push(ThreadNode { message: Some(first.number), children: group.len() as u32 - 1 });
            for &index in &group[1..] {
                nodes.push(ThreadNode { message: Some(entries[index as usize].number), children: 0 });
            }
            threads.push(((first.sent, first.sequence), Thread { nodes }));
            start += length;
        }
        threads.sort_by_key(|(key, _)| *key);
        threads.into_iter().map(|(_, thread)| thread).collect()
    }

    // ---- REFERENCES step 1: links, as each message arrives ----

    /// RFC 5256 §3 REFERENCES step 1 for one message.
    fn link(&mut self, entry: u32, message: &SortInput) {
        let node = self.message_node(entry, message.message_id.as_deref());
        let mut references = message.references.as_deref().map(message_ids).unwrap_or_default();
        if references.is_empty() {
            // No valid References: the first valid ID of In-Reply-To.
            references = message.in_reply_to.as_deref().map(message_ids).unwrap_or_default();
            references.truncate(1);
        }
        // Step 1.A: each reference the parent of the next, unless the
        // child already has a parent or the link would make a loop.
        let mut budget = REFERENCES_WALK_BUDGET;
        let mut previous = NONE;
        for id in &references {
            let current = self.id_node(id);
            if previous != NONE && self.nodes[current as usize].parent == NONE {
                let mut walk = ANCESTOR_WALK_LIMIT.min(budget);
                if self.can_link(previous, current, &mut walk) {
                    self.attach(previous, current);
                }
                budget -= ANCESTOR_WALK_LIMIT.min(budget) - walk;
            }
            previous = current;
        }
        // Step 1.B: the last reference is the message's parent, replacing
        // any parent an earlier message's References gave it; no
        // references, no parent.
        self.detach(node);
        let mut walk = ANCESTOR_WALK_LIMIT;
        if previous != NONE && self.can_link(previous, node, &mut walk) {
            self.attach(previous, node);
        }
    }

    /// The node of a message: the one its Message-ID already has (a dummy
    /// made by an earlier message's references), or a new one. A message
    /// without a valid Message-ID, or whose ID an earlier message already
    /// has, gets a node no ID leads to (RFC 5256 §3 step 1: "assign a
    /// unique Message ID").
    fn message_node(&mut self, entry: u32, message_id: Option<&[u8]>) -> u32 {
        let id = message_id.map(message_ids).and_then(|ids| ids.into_iter().next());
        if let Some(id) = id {
            let hash = self.hash(&id);
            match self.ids.get(&hash) {
                Some(&node) if self.nodes[node as usize].entry == NONE => {
                    self.nodes[node as usize].entry = entry;
                    return node;
                }
                Some(_) => {}
                None => {
                    let node = self.new_node(entry);
                    self.ids.insert(hash, node);
                    return node;
                }
            }
        }
        self.new_node(entry)
    }

    /// The node a referenced Message-ID names, made as a dummy if new.
    fn id_node(&mut self, id: &[u8]) -> u32 {
        let hash = self.hash(id);
        if let Some(&node) = self.ids.get(&hash) {
            return node;
        }
        let node = self.new_node(NONE);
        self.ids.insert(hash, node);
        node
    }

    fn new_node(&mut self, entry: u32) -> u32 {
        self.nodes.push(Node::new(entry));
        self.nodes.len() as u32 - 1
    }

    /// Whether `parent` may become the parent of `child`: not the same
    /// node, and `parent` not below `child`. Walks up from `parent`,
    /// spending `walk`, when `child` has children; running out counts as a
    /// loop.
    fn can_link(&self, parent: u32, child: u32, walk: &mut usize) -> bool {
        if parent == child {
            return false;
        }
        if self.nodes[child as usize].first_child == NONE {
            // Nothing is below `child` (the usual case: a message whose
            // replies are not in yet), so no walk is needed.
            return true;
        }
        let mut current = parent;
        while current != NONE {
            if current == child {
                return false;
            }
            if *walk == 0 {
                return false;
            }
            *walk -= 1;
            current = self.nodes[current as usize].parent;
        }
        true
    }

    /// Makes `child` (which has no parent) the first child of `parent`.
    fn attach(&mut self, parent: u32, child: u32) {
        let first = self.nodes[parent as usize].first_child;
        let node = &mut self.nodes[child as usize];
        node.parent = parent;
        node.previous = NONE;
        node.next = first;
        if first != NONE {
            self.nodes[first as usize].previous = child;
        }
        self.nodes[parent as usize].first_child = child;
    }

    /// Takes `node` out of its parent's children, if it has a parent.
    fn detach(&mut self, node: u32) {
        let Node { parent, next, previous, .. } = self.nodes[node as usize];
        if parent == NONE {
            return;
        }
        if previous == NONE {
            self.nodes[parent as usize].first_child = next;
        } else {
            self.nodes[previous as usize].next = next;
        }
        if next != NONE {
            self.nodes[next as usize].previous = previous;
        }
        let node = &mut self.nodes[node as usize];
        node.parent = NONE;
        node.next = NONE;
        node.previous = NONE;
    }

    fn children(&self, node: u32) -> Vec<u32> {
        let mut children = Vec::new();
        let mut child = self.nodes[node as usize].first_child;
        while child != NONE {
            children.push(child);
            child = self.nodes[child as usize].next;
        }
        children
    }

    fn is_dummy(&self, node: u32) -> bool {
        self.nodes[node as usize].entry == NONE
    }

    // ---- REFERENCES steps 2 to 6, once every message is in ----

    fn references(mut self) -> Vec<Thread> {
        // Step 2: the nodes without a parent are the top level.
        let roots: Vec<u32> =
            (0..self.nodes.len() as u32).filter(|&node| self.nodes[node as usize].parent == NONE).collect();
        // Step 3: prune dummies, children before parents.
        let mut top = Vec::with_capacity(roots.len());
        for &root in &roots {
            for node in self.post_order(root) {
                self.prune(node, &mut top);
            }
        }
        // Step 4: the top level by date (a dummy by its oldest child).
        let mut top: Vec<(Key, u32)> = top.into_iter().map(|node| (self.key(node), node)).collect();
        top.sort_unstable();
        // Step 5: threads with the same base subject are merged.
        let top = self.merge_subjects(top.into_iter().map(|(_, node)| node).collect());
        // Step 6: every set of siblings by date, and the top level again.
        let mut top: Vec<(Key, u32)> = top.into_iter().map(|node| (self.key(node), node)).collect();
        top.sort_unstable();
        top.into_iter().map(|(_, root)| self.flatten(root)).collect()
    }

    /// The nodes under and including `root`, children before parents.
    fn post_order(&self, root: u32) -> Vec<u32> {
        let mut order = Vec::new();
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            order.push(node);
            stack.extend(self.children(node));
        }
        // Reversed pre-order (with children pushed in any order) visits
        // every node after all of its descendants.
        order.reverse();
        order
    }

    /// Step 3 for one node whose children are already pruned; the top
    /// level that results is collected in `top`.
    fn prune(&mut self, node: u32, top: &mut Vec<u32>) {
        let parent = self.nodes[node as usize].parent;
        if !self.is_dummy(node) {
            if parent == NONE {
                top.push(node);
            }
            return;
        }
        let children = self.children(node);
        if parent == NONE && children.len() > 1 {
            // A top-level dummy with several children stays: promoting them
            // would make them separate threads.
            top.push(node);
            return;
        }
        self.detach(node);
        for child in children {
            self.detach(child);
            if parent == NONE {
                // Only child of a top-level dummy: it becomes the thread.
                top.push(child);
            } else {
                self.attach(parent, child);
            }
        }
    }

    /// The message whose subject and date stand for `node`: itself, or a
    /// dummy's oldest child (RFC 5256 §3 steps 4 and 5.B).
    fn representative(&self, node: u32) -> Option<Entry> {
        if !self.is_dummy(node) {
            return Some(self.entries[self.nodes[node as usize].entry as usize]);
        }
        self.children(node)
            .into_iter()
            .filter_map(|child| self.representative_message(child))
            .min_by_key(|entry| (entry.sent, entry.sequence))
    }

    fn representative_message(&self, node: u32) -> Option<Entry> {
        let entry = self.nodes[node as usize].entry;
        (entry != NONE).then(|| self.entries[entry as usize])
    }

    /// Sort key of a node: its (or its representative's) sent date, then
    /// sequence number as the tie-breaker (RFC 5256 §2.2).
    fn key(&self, node: u32) -> Key {
        self.representative(node).map_or((i64::MAX, u32::MAX), |entry| (entry.sent, entry.sequence))
    }

    /// Step 5: group top-level threads by base subject. Takes the top
    /// level sorted by date; returns what is left of it (order is restored
    /// by the caller).
    fn merge_subjects(&mut self, top: Vec<u32>) -> Vec<u32> {
        // 5.A-5.C: the subject table.
        let mut table: HashMap<u64, u32> = HashMap::new();
        for &node in &top {
            let Some(entry) = self.representative(node).filter(|entry| entry.has_subject) else { continue };
            match table.get(&entry.subject) {
                None => {
                    table.insert(entry.subject, node);
                }
                Some(&held) => {
                    let held_is_reply = self.representative(held).is_some_and(|held| held.reply_or_forward);
                    if !self.is_dummy(held) && (self.is_dummy(node) || (held_is_reply && !entry.reply_or_forward)) {
                        table.insert(entry.subject, node);
                    }
                }
            }
        }
        // 5.D: merge.
        let mut removed = vec![false; self.nodes.len()];
        let mut added = Vec::new();
        for &node in &top {
            if removed[node as usize] || self.nodes[node as usize].parent != NONE {
                // Already merged into another thread.
                continue;
            }
            let Some(entry) = self.representative(node).filter(|entry| entry.has_subject) else { continue };
            let Some(&held) = table.get(&entry.subject) else { continue };
            if held == node {
                continue;
            }
            let held_entry = self.representative(held);
            if self.is_dummy(held) && self.is_dummy(node) {
                for child in self.children(node) {
                    self.detach(child);
                    self.attach(held, child);
                }
                removed[node as usize] = true;
            } else if self.is_dummy(held)
                || (entry.reply_or_forward && !held_entry.is_some_and(|held| held.reply_or_forward))
            {
                self.attach(held, node);
                removed[node as usize] = true;
            } else {
                let dummy = self.new_node(NONE);
                removed.push(false);
                if self.nodes[held as usize].parent == NONE {
                    // `held` is still at the top level: the dummy takes
                    // its place there.
                    removed[held as usize] = true;
                    added.push(dummy);
                }
                self.detach(held);
                self.attach(dummy, held);
                self.attach(dummy, node);
                removed[node as usize] = true;
                table.insert(entry.subject, dummy);
            }
        }
        top.into_iter().chain(added).filter(|&node| !removed[node as usize]).collect()
    }

    /// One thread in pre-order, every set of siblings sorted by date
    /// (step 6); iterative, so deep threads cannot overflow the stack.
    fn flatten(&self, root: u32) -> Thread {
        let mut nodes = Vec::new();
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            let mut children: Vec<(Key, u32)> =
                self.children(node).into_iter().map(|child| (self.key(child), child)).collect();
            children.sort_unstable();
            let message = self.representative_message(node).map(|entry| entry.number);
            nodes.push(ThreadNode { message, children: children.len() as u32 });
            // Oldest child on top of the stack, so it comes out first.
            stack.extend(children.into_iter().rev().map(|(_, child)| child));
        }
        Thread { nodes }
    }
}

/// (sent date, sequence number): the order of siblings.
type Key = (i64, u32);

/// Convenience over [`Threader`]: threads `messages` (in ascending
/// sequence order).
#[cfg(test)]
pub fn thread(algorithm: ThreadAlgorithm, numbering: Numbering, messages: &[SortInput]) -> Vec<Thread> {
    let mut threader = Threader::new(algorithm, numbering);
    for message in messages {
        threader.add(message);
    }
    threader.finish()
}

/// The Message-IDs in a Message-ID, References or In-Reply-To value, in
/// order: each "<...>" whose content (folding and spaces removed) holds an
/// "@" with something on both sides. Anything else (phrases of old
/// In-Reply-To fields, comments, broken IDs) is skipped. At most
/// [`REFERENCES_LIMIT`]: the first and the last ones.
pub fn message_ids(field: &[u8]) -> Vec<Vec<u8>> {
    let mut ids: Vec<Vec<u8>> = Vec::new();
    let mut rest = field;
    while let Some(open) = rest.iter().position(|&byte| byte == b'<') {
        rest = &rest[open + 1..];
        let close = rest.iter().position(|&byte| byte == b'<' || byte == b'>').unwrap_or(rest.len());
        let inside = &rest[..close];
        if rest.get(close) != Some(&b'>') {
            // Unterminated, or another "<" first: not an ID.
            rest = &rest[close..];
            continue;
        }
        rest = &rest[close + 1..];
        let id: Vec<u8> = inside.iter().copied().filter(|byte| !matches!(byte, b' ' | b'\t' | b'\r' | b'\n')).collect();
        let valid = id.iter().position(|&byte| byte == b'@').is_some_and(|at| at > 0 && at + 1 < id.len());
        if valid {
            if ids.len() == REFERENCES_LIMIT {
                // Keep the first; drop the oldest of the rest.
                ids.remove(1);
            }
            ids.push(id);
        }
    }
    ids
}

/// Writes `threads` as RFC 5256 §4 thread-lists: "(1 2 3)" for a chain,
/// "(1 (2)(3))" for a message with two replies, "((2)(3))" for two
/// messages under a dummy. Writes nothing for no threads (the caller
/// writes "* THREAD" and the line end).
#[cfg(test)]
pub fn render(out: &mut Vec<u8>, threads: &[Thread]) {
    Renderer::new(threads).write(out, usize::MAX);
}

/// [`render`] a piece at a time, so the caller can send what is written
/// before going on: a THREAD answer for a big mailbox (or one huge thread)
/// then never sits whole in memory.
pub struct Renderer<'a> {
    threads: &'a [Thread],
    /// The thread being written and its next node.
    thread: usize,
    node: usize,
    /// Whether the current thread's bottom frame has been pushed.
    open: bool,
    /// Open nodes: how many of their children are yet to come, and whether
    /// each child goes in its own parentheses (a node with several
    /// children) or continues the line (a node with one). The bottom frame
    /// stands for the thread's own parentheses.
    stack: Vec<Frame>,
    /// Numbers are separated from a following number or "(" by one space;
    /// parentheses need none.
    after_number: bool,
}

struct Frame {
    remaining: u32,
    wrapped: bool,
}

impl<'a> Renderer<'a> {
    pub fn new(threads: &'a [Thread]) -> Renderer<'a> {
        Renderer { threads, thread: 0, node: 0, open: false, stack: Vec::new(), after_number: false }
    }

    /// Writes nodes until `out` holds at least `until` bytes or all is
    /// written (true). The stack, not recursion, keeps the place, so a
    /// thread of any depth stops and resumes between any two nodes.
    pub fn write(&mut self, out: &mut Vec<u8>, until: usize) -> bool {
        while let Some(thread) = self.threads.get(self.thread) {
            if !self.open {
                self.stack.clear();
                self.stack.push(Frame { remaining: 1, wrapped: true });
                self.after_number = false;
                self.open = true;
            }
            while let Some(node) = thread.nodes.get(self.node) {
                if out.len() >= until {
                    return false;
                }
                self.node += 1;
                let Some(frame) = self.stack.last_mut() else {
                    self.node = thread.nodes.len();
                    break;
                };
                frame.remaining = frame.remaining.saturating_sub(1);
                if frame.wrapped {
                    if self.after_number {
                        out.push(b' ');
                    }
                    out.push(b'(');
                    self.after_number = false;
                }
                if let Some(number) = node.message {
                    if self.after_number {
                        out.push(b' ');
                    }
                    out.extend_from_slice(number.to_string().as_bytes());
                    self.after_number = true;
                }
                if node.children > 0 {
                    self.stack.push(Frame { remaining: node.children, wrapped: node.children > 1 });
                    continue;
                }
                // A leaf: close it and every node it was the last child of.
                while let Some(frame) = self.stack.last() {
                    if frame.wrapped {
                        out.push(b')');
                        self.after_number = false;
                    }
                    if frame.remaining > 0 {
                        break;
                    }
                    self.stack.pop();
                }
            }
            // A malformed tree (fewer nodes than its counts say) still
            // closes every parenthesis it opened: after each node, the top
            // frame has no child open, and every wrapped frame below it
            // has one.
            self.stack.pop();
            while let Some(frame) = self.stack.pop() {
                if frame.wrapped {
                    out.push(b')');
                }
            }
            self.thread += 1;
            self.node = 0;
            self.open = false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::datetime::DateTime;
    use proptest::prelude::*;

    /// A message: sequence number, sent date (seconds), subject,
    /// Message-ID, References.
    fn mail(sequence: u32, sent: i64, subject: &str, id: &str, references: &str) -> SortInput {
        let mut message = SortInput::new(sequence, sequence + 100, DateTime { unix: sent, offset_minutes: 0 }, 0);
        message.subject = Some(subject.to_string());
        message.message_id = (!id.is_empty()).then(|| format!("<{id}>").into_bytes());
        message.references = (!references.is_empty()).then(|| references.as_bytes().to_vec());
        message
    }

    fn rendered(algorithm: ThreadAlgorithm, messages: &[SortInput]) -> String {
        let mut out = Vec::new();
        render(&mut out, &thread(algorithm, Numbering::Sequence, messages));
        String::from_utf8(out).unwrap()
    }

    fn tree(nodes: &[(Option<u32>, u32)]) -> Thread {
        Thread { nodes: nodes.iter().map(|&(message, children)| ThreadNode { message, children }).collect() }
    }

    #[test]
    fn renders_rfc5256_syntax() {
        let mut out = Vec::new();
        render(
            &mut out,
            &[
                tree(&[(Some(1), 0)]),
                tree(&[(Some(2), 1), (Some(3), 1), (Some(4), 0)]),
                tree(&[(Some(5), 2), (Some(6), 0), (Some(7), 1), (Some(8), 0)]),
                tree(&[(None, 2), (Some(9), 0), (Some(10), 2), (Some(11), 0), (Some(12), 0)]),
                tree(&[(None, 1), (Some(13), 0)]),
            ],
        );
        assert_eq!(String::from_utf8(out).unwrap(), "(1)(2 3 4)(5 (6)(7 8))((9)(10 (11)(12)))(13)");
        let mut out = Vec::new();
        render(&mut out, &[tree(&[(Some(1), 3), (Some(2), 0)])]);
        assert_eq!(String::from_utf8(out).unwrap(), "(1 (2))");
    }

    #[test]
    fn message_id_extraction() {
        assert_eq!(message_ids(b" <a@b> <c@d>\r\n\t<e@f>"), vec![b"a@b".to_vec(), b"c@d".to_vec(), b"e@f".to_vec()]);
        assert_eq!(message_ids(b" Your message of <x@y> (comment)"), vec![b"x@y".to_vec()]);
        assert_eq!(message_ids(b" <noat> <@x> <x@> <a@b"), Vec::<Vec<u8>>::new());
        assert_eq!(message_ids(b" <a\r\n @b>"), vec![b"a@b".to_vec()]);
        assert_eq!(message_ids(b" <<a@b>"), vec![b"a@b".to_vec()]);
        let many: String = (0..100).map(|index| format!("<{index}@x> ")).collect();
        let ids = message_ids(many.as_bytes());
        assert_eq!(ids.len(), REFERENCES_LIMIT);
        assert_eq!(ids[0], b"0@x");
        assert_eq!(ids[1], format!("{}@x", 100 - REFERENCES_LIMIT + 1).into_bytes());
        assert_eq!(ids[REFERENCES_LIMIT - 1], b"99@x");
    }

    #[test]
    fn ordered_subject() {
        let messages = [
            mail(1, 50, "Hello", "", ""),
            mail(2, 10, "Re: hello", "", ""),
            mail(3, 30, "Other", "", ""),
            mail(4, 20, "[list] Hello", "", ""),
            mail(5, 40, "", "", ""),
            mail(6, 60, "Re:", "", ""),
        ];
        assert_eq!(rendered(ThreadAlgorithm::OrderedSubject, &messages), "(2 (4)(1))(3)(5 6)");
    }

    #[test]
    fn references_chain_and_siblings() {
        let messages = [
            mail(1, 10, "a", "1@x", ""),
            mail(2, 20, "Re: a", "2@x", "<1@x>"),
            mail(3, 30, "Re: a", "3@x", "<1@x> <2@x>"),
            mail(4, 25, "Re: a", "4@x", "<1@x>"),
            mail(5, 5, "b", "5@x", ""),
        ];
        assert_eq!(rendered(ThreadAlgorithm::References, &messages), "(5)(1 (2 3)(4))");
    }

    #[test]
    fn references_missing_parent_makes_a_dummy() {
        // 2 and 3 reply to a message not in the mailbox.
        let messages = [
            mail(1, 10, "x", "1@x", ""),
            mail(2, 20, "Re: gone", "2@x", "<0@x>"),
            mail(3, 30, "Re: gone", "3@x", "<0@x>"),
            mail(4, 40, "Re: only", "4@x", "<9@x>"),
        ];
        assert_eq!(rendered(ThreadAlgorithm::References, &messages), "(1)((2)(3))(4)");
    }

    #[test]
    fn references_loops_and_duplicates() {
        // 1 says 2 is its parent and 2 says 1 is: the later link loses.
        let messages = [
            mail(1, 10, "a", "1@x", "<2@x>"),
            mail(2, 20, "b", "2@x", "<1@x>"),
            mail(3, 30, "c", "1@x", ""),
            mail(4, 40, "Re: c", "4@x", "<1@x>"),
        ];
        assert_eq!(rendered(ThreadAlgorithm::References, &messages), "(2 1 4)(3)");
    }

    #[test]
    fn references_merge_by_subject() {
        let messages = [
            mail(1, 10, "topic", "1@x", ""),
            mail(2, 20, "Re: topic", "2@x", ""),
            mail(3, 30, "topic", "3@x", ""),
            mail(4, 40, "Re: other", "4@x", ""),
            mail(5, 50, "Re: other", "5@x", ""),
        ];
        assert_eq!(rendered(ThreadAlgorithm::References, &messages), "((1 2)(3))((4)(5))");
    }

    #[test]
    fn deep_chains_need_no_recursion() {
        let depth = 5000u32;
        let messages: Vec<SortInput> = (1..=depth)
            .map(|sequence| {
                let parent = if sequence > 1 { format!("<{}@x>", sequence - 1) } else { String::new() };
                mail(sequence, i64::from(sequence), "Re: deep", &format!("{sequence}@x"), &parent)
            })
            .collect();
        let threads = thread(ThreadAlgorithm::References, Numbering::Uid, &messages);
        assert_eq!(threads.len(), 1);
        assert_eq!(threads[0].messages().collect::<Vec<_>>(), (101..=depth + 100).collect::<Vec<_>>());
        let mut out = Vec::new();
        render(&mut out, &threads);
        let expected: Vec<String> = (101..=depth + 100).map(|uid| uid.to_string()).collect();
        assert_eq!(out, format!("({})", expected.join(" ")).into_bytes());
    }

    /// The answers Dovecot 2.3.19 gave for the same messages.
    #[test]
    fn same_answers_as_dovecot() {
        let messages = crate::imap::sort::dovecot_fixture::messages();
        let answer = |algorithm, numbering| {
            let mut out = b"* THREAD ".to_vec();
            render(&mut out, &thread(algorithm, numbering, &messages));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            answer(ThreadAlgorithm::References, Numbering::Sequence),
            "* THREAD (11)(1 (20)(2 3)(13))((4)(5))(7 6)(8)(10 9 14)(19)(12)(15)(16)(17)(18)(21)(22)"
        );
        assert_eq!(
            answer(ThreadAlgorithm::References, Numbering::Uid),
            "* THREAD (11)(1 (20)(2 3)(13))((4)(5))(7 6)(8)(10 9 14)(19)(12)(15)(16)(17)(18)(21)(22)"
        );
        assert_eq!(
            answer(ThreadAlgorithm::OrderedSubject, Numbering::Sequence),
            "* THREAD (11)(1 (20)(2)(3)(13))(4 5)(6)(7)(8)(9 (10)(14))(19 (17)(18))(12)(15)(16)(21)(22)"
        );
        let messages = crate::imap::sort::dovecot_fixture::second();
        let answer = |algorithm| {
            let mut out = b"* THREAD ".to_vec();
            render(&mut out, &thread(algorithm, Numbering::Sequence, &messages));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            answer(ThreadAlgorithm::References),
            "* THREAD (2 (1 38)(5)(6)(25)(26)(29))((3 39)(4))(8 7)(10 9)(12 11)(14 13)((15)(16))(17)((18)(19))(20 30)\
             (22 21)((23)(24))(27)(28)((31)(32)(33)(34))((35)(36)(37))(41)((42)(43))(46)(47)(48)(49)(50)(51)(52)(53)\
             (40)(45 44)"
        );
        assert_eq!(
            answer(ThreadAlgorithm::OrderedSubject),
            "* THREAD (1 (2)(5)(6)(25)(26)(29))(3 4)(7 8)(9 10)(11 12)(13 14)(15 16)(17)(18 19)(20 30)(21 22)(23 24)\
             (27)(28)(31 (32)(33)(34))(35 (36)(37))(38)(39)(41)(42 43)(44 45)(46)(47)(48)(49)(50)(51)(52)(53)(40)"
        );
    }

    /// A generated message: sent date, subject, Message-ID number,
    /// References numbers, In-Reply-To number.
    type Generated = (i64, String, u8, Vec<u8>, Option<u8>);

    /// Dovecot 2.3.19 breaks ties of date by sequence number everywhere,
    /// not by subject (ORDEREDSUBJECT) and not by thread size.
    #[test]
    fn date_ties_as_dovecot() {
        let messages = [
            mail(1, 10, "bbb", "t1@x", ""),
            mail(2, 10, "aaa", "t2@x", ""),
            mail(3, 20, "Re: ccc", "t3@x", ""),
            mail(4, 20, "ccc", "t4@x", ""),
            mail(5, 10, "zzz", "t5@x", "<gone@x>"),
            mail(6, 10, "yyy", "t6@x", "<gone@x>"),
            mail(7, 10, "Re: bbb", "t7@x", ""),
        ];
        assert_eq!(rendered(ThreadAlgorithm::References, &messages), "(1 7)(2)((5)(6))(4 3)");
        assert_eq!(rendered(ThreadAlgorithm::OrderedSubject, &messages), "(1 7)(2)(5)(6)(3 4)");
    }

    /// 100,000 messages in threads of ten (each message replying to the
    /// one before, every References field complete). Run by hand with
    /// `--ignored` to see the time; it asserts only the shape.
    #[test]
    #[ignore = "a timing run over a large mailbox; run by hand"]
    fn large_mailbox() {
        let count = 100_000u32;
        let started = std::time::Instant::now();
        let mut threader = Threader::new(ThreadAlgorithm::References, Numbering::Sequence);
        for sequence in 1..=count {
            let root = (sequence - 1) / 10 * 10 + 1;
            let references: String = (root..sequence).map(|id| format!("<{id}@example.org> ")).collect();
            let subject = if sequence == root { format!("topic {root}") } else { format!("Re: topic {root}") };
            threader.add(&mail(
                sequence,
                i64::from(sequence),
                &subject,
                &format!("{sequence}@example.org"),
                &references,
            ));
        }
        let threads = threader.finish();
        let mut out = Vec::new();
        render(&mut out, &threads);
        eprintln!("THREAD REFERENCES of {count}: {:?}, {} bytes", started.elapsed(), out.len());
        assert_eq!(threads.len(), count as usize / 10);

        let started = std::time::Instant::now();
        let mut messages: Vec<SortInput> =
            (1..=count).map(|sequence| mail(sequence, i64::from(sequence % 977), "Re: [list] topic", "", "")).collect();
        crate::imap::sort::sort(
            &[
                crate::imap::sort::SortCriterion { key: crate::imap::sort::SortKey::Subject, reverse: false },
                crate::imap::sort::SortCriterion { key: crate::imap::sort::SortKey::Arrival, reverse: true },
            ],
            &mut messages,
        );
        eprintln!("SORT (SUBJECT REVERSE ARRIVAL) of {count}: {:?}", started.elapsed());
    }

    fn arbitrary_mail() -> impl Strategy<Value = Generated> {
        (
            0i64..20,
            prop_oneof![Just(""), Just("a"), Just("Re: a"), Just("b"), Just("[l] Fwd: b (fwd)")].prop_map(String::from),
            0u8..12,
            proptest::collection::vec(0u8..12, 0..5),
            proptest::option::of(0u8..12),
        )
    }

    fn build(messages: &[Generated]) -> Vec<SortInput> {
        messages
            .iter()
            .enumerate()
            .map(|(index, (sent, subject, id, references, reply_to))| {
                let mut message = mail(index as u32 + 1, *sent, subject, &format!("{id}@x"), "");
                let references: String = references.iter().map(|id| format!("<{id}@x> ")).collect();
                message.references = (!references.is_empty()).then(|| references.into_bytes());
                message.in_reply_to = reply_to.map(|id| format!("<{id}@x>").into_bytes());
                message
            })
            .collect()
    }

    proptest! {
        #[test]
        fn every_message_exactly_once(messages in proptest::collection::vec(arbitrary_mail(), 0..30)) {
            let messages = build(&messages);
            for algorithm in [ThreadAlgorithm::OrderedSubject, ThreadAlgorithm::References] {
                let threads = thread(algorithm, Numbering::Sequence, &messages);
                let mut seen: Vec<u32> = threads.iter().flat_map(super::Thread::messages).collect();
                seen.sort_unstable();
                prop_assert_eq!(seen, (1..=messages.len() as u32).collect::<Vec<_>>());
                for thread in &threads {
                    // Counts are consistent: nodes = 1 + sum of children.
                    let children: u32 = thread.nodes().iter().map(|node| node.children).sum();
                    prop_assert_eq!(thread.nodes().len() as u32, children + 1);
                    // Dummies have at least two children.
                    for node in thread.nodes() {
                        prop_assert!(node.message.is_some() || node.children >= 2);
                    }
                }
                // The rendering names each message once and balances.
                let mut out = Vec::new();
                render(&mut out, &threads);
                let text = String::from_utf8(out).unwrap();
                let opens = text.matches('(').count();
                prop_assert_eq!(opens, text.matches(')').count());
                let mut numbers: Vec<u32> = text
                    .split(|c: char| !c.is_ascii_digit())
                    .filter(|part| !part.is_empty())
                    .map(|part| part.parse().unwrap())
                    .collect();
                numbers.sort_unstable();
                prop_assert_eq!(numbers, (1..=messages.len() as u32).collect::<Vec<_>>());
            }
        }

        #[test]
        fn render_never_panics(nodes in proptest::collection::vec((proptest::option::of(0u32..5), 0u32..4), 0..12)) {
            let mut out = Vec::new();
            render(&mut out, &[tree(&nodes)]);
        }

        /// Written a few bytes at a time (the buffer emptied between
        /// pieces, as a flush does), the answer is the same bytes.
        #[test]
        fn render_in_pieces_is_the_same(
            trees in proptest::collection::vec(
                proptest::collection::vec((proptest::option::of(0u32..500), 0u32..4), 0..12), 0..5),
            step in 1usize..8,
        ) {
            let threads: Vec<Thread> = trees.iter().map(|nodes| tree(nodes)).collect();
            let mut whole = Vec::new();
            render(&mut whole, &threads);
            let (mut pieces, mut out) = (Vec::new(), Vec::new());
            let mut renderer = Renderer::new(&threads);
            while !renderer.write(&mut out, step) {
                pieces.append(&mut out);
            }
            pieces.append(&mut out);
            prop_assert_eq!(pieces, whole);
        }

        #[test]
        fn message_ids_never_panic(field in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = message_ids(&field);
        }
    }
}
