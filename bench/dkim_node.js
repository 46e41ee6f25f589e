// bench/dkim_node.js DIR RUNS - nodemailer's DKIM signer (`nodemailer/lib/dkim`, the one its
// transports use for the `dkim` option) signing the messages bench/dkim_missive.lua wrote,
// with its key: rsa-sha256, relaxed/relaxed.  A signature counts once the signed stream has
// been read to its end, as a transport would.  Signatures per second, as the Lua script
// measures them.  Run with NODE_PATH pointing at the bench's own node_modules.
'use strict';
const fs = require('fs');
const DKIM = require('nodemailer/lib/dkim');

function median(t) {
    const c = [...t].sort((a, b) => a - b), n = c.length;
    return n % 2 ? c[(n - 1) / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

function signOnce(signer, raw) {
    return new Promise((resolve, reject) => {
        const out = signer.sign(raw);
        let len = 0, head = null;
        out.on('data', chunk => { if (head === null) head = chunk; len += chunk.length; });
        out.on('error', reject);
        out.on('end', () => {
            if (!head || !head.toString('latin1', 0, 15).startsWith('DKIM-Signature'))
                reject(new Error('no DKIM-Signature at the head of the output'));
            else resolve(len);
        });
    });
}

async function main() {
    const [dir, runs] = [process.argv[2], Number(process.argv[3])];
    const key = fs.readFileSync(dir + '/key.pem', 'utf8');
    const signer = new DKIM({ domainName: 'example.org', keySelector: 'bench', privateKey: key });
    for (const [name, n] of [['10k', 200], ['1m', 20]]) {
        const raw = fs.readFileSync(dir + '/msg' + name + '.eml');
        const rates = [];
        for (let r = 0; r < runs; r++) {
            const t0 = process.hrtime.bigint();
            for (let i = 0; i < n; i++) await signOnce(signer, raw);
            rates.push(n / (Number(process.hrtime.bigint() - t0) / 1e9));
        }
        console.log('dkim.sign' + name + '.nodemailer\t' + median(rates).toPrecision(6));
    }
}

main().catch(e => { console.error(e); process.exit(1); });
