// What the ImapFlow scripts here share (imapflow.mjs, shared.mjs): ImapFlow
// itself (from NODE_PATH, where run.sh installs it), the connection settings
// from the environment (ROOST_HOST, ROOST_PORT, ROOST_CA), the PASS/FAIL
// lines and waiting for an event.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || process.cwd(), 'x.js'));
export const { ImapFlow } = require('imapflow');

/// ImapFlow options for `user` over TLS, verifying roost's certificate.
export function settings(user, pass) {
    return {
        host: process.env.ROOST_HOST,
        port: Number(process.env.ROOST_PORT),
        secure: true,
        tls: { ca: [fs.readFileSync(process.env.ROOST_CA)], servername: process.env.ROOST_HOST },
        auth: { user, pass },
        logger: false,
    };
}

/// pass/fail/check printing `PASS: <label>: ...` lines, and `failed()`,
/// the number of failed checks so far.
export function checks(label) {
    let failed = 0;
    const pass = what => console.log(`PASS: ${label}: ${what}`);
    const fail = what => {
        failed += 1;
        console.log(`FAIL: ${label}: ${what}`);
    };
    const check = (what, ok, detail = '') => (ok ? pass(what) : fail(detail ? `${what} (${detail})` : what));
    return { pass, fail, check, failed: () => failed };
}

/// Resolves with the first event of `name` on `client` for which `test`
/// holds, or rejects after `ms`.
export function waitFor(client, name, test, ms) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            client.off(name, listener);
            reject(new Error(`no ${name} event within ${ms} ms`));
        }, ms);
        const listener = data => {
            if (test(data)) {
                clearTimeout(timer);
                client.off(name, listener);
                resolve(data);
            }
        };
        client.on(name, listener);
    });
}

/// JSON for ImapFlow's objects, which hold BigInt modseqs.
export const json = value => JSON.stringify(value, (_, item) => (typeof item === 'bigint' ? String(item) : item));

/// Runs `main`, then exits 1 if a check failed, 2 if it threw.
export function run(main, label, failed) {
    main()
        .then(() => process.exit(failed() ? 1 : 0))
        .catch(error => {
            console.log(`FAIL: ${label}: could not run: ${error.stack || error}`);
            process.exit(2);
        });
}
