// ImapFlow (the Node.js IMAP client behind many webmails and tools) against
// a running roost: CONDSTORE and QRESYNC as a phone-style client uses them,
// with the extensions ImapFlow turns on by itself (ENABLE, COMPRESS when
// offered, OBJECTID), and PREVIEW through its command channel. Run by
// tests/clients/run.sh, which installs imapflow from npm.
//
//   node imapflow.mjs   (ROOST_HOST, ROOST_PORT, ROOST_CA, ROOST_USER,
//                        ROOST_PASSWORD in the environment; NODE_PATH to
//                        the directory holding node_modules/imapflow)
//
// Prints one "PASS: ..." or "FAIL: ..." line per check and "INFO: ..." lines;
// exits 1 if a check failed, 2 if it could not run.

import { ImapFlow, settings as userSettings, checks, waitFor, json, run } from './flow.mjs';

const settings = { ...userSettings(process.env.ROOST_USER, process.env.ROOST_PASSWORD), qresync: true };
const { pass, fail, check, failed } = checks('imapflow');

async function main() {
    // IDLE as soon as the client has nothing to do (ImapFlow waits 15 s by default).
    const watcher = new ImapFlow({ ...settings, autoIdleDelay: 200 });
    await watcher.connect();
    check('CONDSTORE and QRESYNC enabled', watcher.enabled.has('CONDSTORE') && watcher.enabled.has('QRESYNC'),
        [...watcher.enabled].join(' '));
    const compressed = Boolean(watcher._deflate);
    console.log(`INFO: imapflow: COMPRESS=DEFLATE ${watcher.capabilities.has('COMPRESS=DEFLATE') ? 'offered' : 'not offered'}, ${compressed ? 'in use' : 'not in use'}`);

    const lock = await watcher.getMailboxLock('INBOX');
    const opened = { ...watcher.mailbox };
    check('INBOX opened with a HIGHESTMODSEQ', typeof opened.highestModseq === 'bigint' && opened.highestModseq > 0n,
        String(opened.highestModseq));
    const messages = [];
    for await (const message of watcher.fetch('1:*', { uid: true, flags: true, envelope: true, size: true })) {
        messages.push(message);
    }
    check(`fetched every INBOX message with envelope and flags (${messages.length})`,
        messages.length === opened.exists && messages.every(message => message.envelope && message.flags && message.uid),
        `exists ${opened.exists}`);
    // ImapFlow asks for EMAILID by itself when OBJECTID is offered (RFC 8474).
    const emailIds = new Set(messages.map(message => message.emailId));
    check('every message has its own EMAILID (OBJECTID)',
        messages.every(message => typeof message.emailId === 'string' && message.emailId.length > 0)
            && emailIds.size === messages.length,
        `${emailIds.size} ids for ${messages.length} messages`);
    // PREVIEW (RFC 8970): ImapFlow has no option for it, so the FETCH goes
    // through its command channel (exec), and ImapFlow's own parser reads
    // the answers: the wire syntax is checked by a real client's parser.
    check('PREVIEW offered', watcher.capabilities.has('PREVIEW'));
    const previews = new Map();
    const asText = value => (Buffer.isBuffer(value) ? value.toString('utf-8') : value);
    const previewFetch = await watcher.exec('UID FETCH',
        [{ type: 'SEQUENCE', value: '1:*' }, [{ type: 'ATOM', value: 'UID' }, { type: 'ATOM', value: 'PREVIEW' }]], {
            untagged: {
                FETCH: async untagged => {
                    const list = (untagged.attributes && untagged.attributes[1]) || [];
                    let uid;
                    let preview;
                    for (let i = 0; i + 1 < list.length; i += 2) {
                        const key = String(list[i].value).toUpperCase();
                        const value = list[i + 1];
                        if (key === 'UID') uid = Number(value.value);
                        if (key === 'PREVIEW') preview = value === null ? null : asText(value.value);
                    }
                    previews.set(uid, preview);
                },
            },
        });
    previewFetch.next();
    check(`UID FETCH PREVIEW answers for every message (${previews.size})`,
        messages.every(message => typeof previews.get(message.uid) === 'string'),
        JSON.stringify([...previews].slice(0, 3)));
    check('previews are at most 256 characters (RFC 8970 §3) and some hold text',
        [...previews.values()].every(text => typeof text === 'string' && [...text].length <= 256)
            && [...previews.values()].some(text => typeof text === 'string' && text.trim().length > 0));
    // A plain-text message's preview starts with words of its text.
    const plain = messages.find(message => previews.get(message.uid));
    if (plain) {
        const bodies = [];
        for await (const message of watcher.fetch(String(plain.uid), { uid: true, source: true }, { uid: true })) {
            bodies.push(message.source.toString('utf-8'));
        }
        const firstWord = previews.get(plain.uid).trim().split(/\s+/)[0].replace(/[^\p{L}\p{N}]+/gu, '');
        check('a preview is made of its message\'s words', bodies.length === 1 && bodies[0].includes(firstWord),
            `preview ${JSON.stringify(previews.get(plain.uid).slice(0, 60))}`);
    }
    const [flagged, doomed] = [messages[0], messages[1]];
    lock.release();
    const idleBy = Date.now() + 10000;
    while (!watcher.idling && Date.now() < idleBy) {
        await new Promise(resolve => setTimeout(resolve, 50));
    }
    check('the watcher is in IDLE', watcher.idling);

    // Another device flags one message and deletes another; the idling
    // watcher is told at once.
    const flagsSeen = waitFor(watcher, 'flags', data => data.uid === flagged.uid && data.flags.has('\\Flagged'), 15000);
    const expungeSeen = waitFor(watcher, 'expunge', data => data.uid === doomed.uid || data.vanished, 15000);
    const other = new ImapFlow({ ...settings });
    await other.connect();
    const otherLock = await other.getMailboxLock('INBOX');
    await other.messageFlagsAdd(String(flagged.uid), ['\\Flagged'], { uid: true });
    await other.messageDelete(String(doomed.uid), { uid: true });
    otherLock.release();
    try {
        const flags = await flagsSeen;
        check('an idling client sees another device flag a message, with its modseq', typeof flags.modseq === 'bigint',
            String(flags.modseq));
    } catch (error) {
        fail(`an idling client sees another device flag a message (${error.message})`);
    }
    try {
        const gone = await expungeSeen;
        check('an idling client sees another device delete a message (VANISHED under QRESYNC)', gone.vanished === true,
            json(gone));
    } catch (error) {
        fail(`an idling client sees another device delete a message (${error.message})`);
    }
    await other.logout();
    await watcher.logout();

    // A phone coming back: SELECT with QRESYNC from what it had, then FETCH
    // CHANGEDSINCE: exactly the flag change and the deletion come back.
    const phone = new ImapFlow({ ...settings });
    const vanished = [];
    phone.on('expunge', data => vanished.push(data));
    await phone.connect();
    const phoneLock = await phone.getMailboxLock('INBOX', {
        changedSince: opened.highestModseq,
        uidValidity: opened.uidValidity,
    });
    check('resync: SELECT (QRESYNC ...) reports the deleted message as VANISHED (EARLIER)',
        vanished.some(data => data.uid === doomed.uid && data.earlier), JSON.stringify(vanished));
    const changed = [];
    for await (const message of phone.fetch('1:*', { uid: true, flags: true },
        { uid: true, changedSince: opened.highestModseq })) {
        changed.push(message);
    }
    check('resync: FETCH CHANGEDSINCE returns exactly the flagged message',
        changed.length === 1 && changed[0].uid === flagged.uid && changed[0].flags.has('\\Flagged'),
        JSON.stringify(changed.map(message => ({ uid: message.uid, flags: [...message.flags] }))));
    check('resync: the mailbox now holds one message fewer', phone.mailbox.exists === opened.exists - 1,
        `${phone.mailbox.exists} vs ${opened.exists}`);
    phoneLock.release();
    await phone.logout();
}

run(main, 'imapflow', failed);
