// Shared folders through ImapFlow: the namespaces it reads at login, the
// shared and Family/ folders in its list(), and an owner idling in a shared
// folder told when the grantee files a message into it or flags one.
// Run by tests/clients/run.sh (shared.sh), after shared.py gave GRANTEE
// lrswi on OWNER's Bills.
//
//   node shared.mjs OWNER OWNER_PASSWORD GRANTEE GRANTEE_PASSWORD
//   (ROOST_HOST, ROOST_PORT, ROOST_CA in the environment; NODE_PATH to the
//   directory holding node_modules/imapflow)
//
// Prints one "PASS: ..." or "FAIL: ..." line per check; exits 1 if a check
// failed, 2 if it could not run.

import { ImapFlow, settings, checks, waitFor, json, run } from './flow.mjs';

const [ownerName, ownerPassword, granteeName, granteePassword] = process.argv.slice(2);
const { pass, fail, check, failed } = checks('imapflow shared');

const message = [
    'From: Dad <dad@example.org>',
    'To: Mom <mom@example.org>',
    'Subject: the gas bill, paid',
    'Date: Tue, 02 Jan 2024 09:00:00 +0100',
    'Message-ID: <shared-append@clients.roost.test>',
    '',
    'Paid it this morning.',
    '',
].join('\r\n');

async function main() {
    const bills = `Shared/${ownerName}/Bills`;
    const grantee = new ImapFlow(settings(granteeName, granteePassword));
    await grantee.connect();
    const namespaces = grantee.namespaces || {};
    const first = section => (Array.isArray(section) && section.length === 1 ? section[0] : null);
    check('namespaces: personal "" with /',
        first(namespaces.personal)?.prefix === '' && first(namespaces.personal)?.delimiter === '/',
        JSON.stringify(namespaces.personal));
    check('namespaces: other users "Shared/" with /',
        first(namespaces.other)?.prefix === 'Shared/' && first(namespaces.other)?.delimiter === '/',
        JSON.stringify(namespaces.other));
    check('namespaces: shared "Family/" with /',
        first(namespaces.shared)?.prefix === 'Family/' && first(namespaces.shared)?.delimiter === '/',
        JSON.stringify(namespaces.shared));

    const listed = await grantee.list();
    const paths = listed.map(entry => entry.path);
    const entry = listed.find(item => item.path === bills);
    check(`list() shows ${bills}, selectable`, entry && !entry.flags.has('\\Noselect'), JSON.stringify(paths));
    check('list() shows Family/Newsletter', paths.includes('Family/Newsletter'), JSON.stringify(paths));
    check(`list() does not show Shared/${ownerName}/Diary`, !paths.includes(`Shared/${ownerName}/Diary`));
    check('list() shows the grantee\'s own INBOX', paths.includes('INBOX'));

    // The owner idles in Bills (ImapFlow's IDLE starts once nothing else runs).
    const owner = new ImapFlow({ ...settings(ownerName, ownerPassword), autoIdleDelay: 200 });
    await owner.connect();
    const lock = await owner.getMailboxLock('Bills');
    const before = owner.mailbox.exists;
    lock.release();
    const idleBy = Date.now() + 10000;
    while (!owner.idling && Date.now() < idleBy) {
        await new Promise(resolve => setTimeout(resolve, 50));
    }
    check('the owner idles in Bills', owner.idling);

    // The grantee files a message into Bills (right i): the owner hears EXISTS.
    const exists = waitFor(owner, 'exists', data => data.count === before + 1, 15000);
    const appended = await grantee.append(bills, message);
    check(`the grantee appends into ${bills}`, appended && appended.uid > 0,
        json(appended));
    try {
        await exists;
        pass(`the idling owner gets EXISTS ${before + 1} for the grantee's APPEND`);
    } catch (error) {
        fail(`the idling owner gets EXISTS for the grantee's APPEND (${error.message})`);
    }

    // The grantee marks it \Seen (right s: private, the owner hears
    // nothing) and \Flagged (right w): the owner hears the FETCH, with
    // \Flagged but without the grantee's \Seen (per-user \Seen).
    // Matched by UID or, if the FETCH carries none, by sequence number.
    const flagged = waitFor(owner, 'flags', data => data.uid === appended.uid || data.seq === before + 1, 15000);
    const granteeLock = await grantee.getMailboxLock(bills);
    await grantee.messageFlagsAdd(String(appended.uid), ['\\Seen'], { uid: true });
    await grantee.messageFlagsAdd(String(appended.uid), ['\\Flagged'], { uid: true });
    granteeLock.release();
    try {
        const data = await flagged;
        check('the idling owner sees the grantee\'s \\Flagged, and not the grantee\'s \\Seen',
            data.flags.has('\\Flagged') && !data.flags.has('\\Seen'), JSON.stringify([...data.flags]));
    } catch (error) {
        fail(`the idling owner sees the grantee's \\Flagged (${error.message})`);
    }
    await grantee.logout();
    await owner.logout();
}

run(main, 'imapflow shared', failed);
