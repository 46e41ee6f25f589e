// bench/imap_imapflow.js MODE HOST PORT TLS CAFILE USER RUNS KEY - imapflow (npm) against
// Dovecot: seconds for connect + login + SELECT INBOX + fetch every message's source
// (`client.fetch('1:*', {uid, source})`: one UID FETCH ... BODY.PEEK[], what imapflow's
// documentation shows for reading a mailbox).  TLS is none or implicit; the chain is
// verified against CAFILE, the name is "localhost".  MODE fetch: imapflow's defaults, which
// turn on COMPRESS=DEFLATE (RFC 4978) since Dovecot offers it; MODE fetch-nocompress:
// disableCompression, every client of the table then moves the same bytes (on loopback,
// compression only costs CPU).
// bench/imap_imapflow.js mem HOST PORT USER OUTFILE - peak RSS growth (kB) downloading
// message UID 1 into OUTFILE (`client.download`, a stream piped to the file).
// Run with NODE_PATH pointing at the bench's own node_modules (bench/run.sh does).
'use strict';
const fs = require('fs');
const stream = require('stream');
const { ImapFlow } = require('imapflow');

function client(host, port, tls, cafile, user, compress) {
    return new ImapFlow({
        host, port: Number(port), secure: tls === 'implicit',
        doSTARTTLS: false,
        auth: { user, pass: 'secret' },
        tls: tls === 'implicit' ? { ca: fs.readFileSync(cafile), servername: 'localhost' } : {},
        logger: false, disableCompression: !compress, disableAutoIdle: true
    });
}

function median(t) {
    const c = [...t].sort((a, b) => a - b), n = c.length;
    return n % 2 ? c[(n - 1) / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

function machineCpu() {
    const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1, 8)
        .map(Number);
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / 100;
}

function status() {
    const s = fs.readFileSync('/proc/self/status', 'utf8');
    return { rss: Number(s.match(/VmRSS:\s*(\d+)/)[1]), hwm: Number(s.match(/VmHWM:\s*(\d+)/)[1]) };
}

const out = (k, v) => process.stdout.write(`${k}\t${Number(v.toPrecision(6))}\n`);

async function fetchAll(compress, host, port, tls, cafile, user, runs, key) {
    const ts = [], cpu = [], machine = [];
    let n = 0;
    for (let i = 0; i < runs; i++) {
        const t0 = process.hrtime.bigint(), c0 = process.cpuUsage(), m0 = machineCpu();
        const c = client(host, port, tls, cafile, user, compress);
        await c.connect();
        await c.mailboxOpen('INBOX', { readOnly: true });
        n = 0;
        for await (const m of c.fetch('1:*', { uid: true, source: true })) {
            if (m.source.length > 0) n++;
        }
        await c.logout();
        const c1 = process.cpuUsage(c0);
        ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
        cpu.push((c1.user + c1.system) / 1e6);
        machine.push(machineCpu() - m0);
        if (n === 0) throw new Error('no message fetched');
    }
    out(key, median(ts));
    // CPU seconds per run: this client, and the whole machine (client + server + kernel)
    out(`${key}.cpu`, median(cpu));
    out(`${key}.machine`, median(machine));
    out(`${key}.count`, n);
}

async function mem(host, port, user, outfile) {
    const c = client(host, port, 'none', null, user, false);
    await c.connect();
    await c.mailboxOpen('INBOX', { readOnly: true });
    if (global.gc) global.gc();
    const before = status().rss;
    fs.writeFileSync('/proc/self/clear_refs', '5');
    const d = await c.download('1', undefined, { uid: true });
    await stream.promises.pipeline(d.content, fs.createWriteStream(outfile));
    const peak = status().hwm;
    await c.logout();
    process.stdout.write(`mem.imap.imapflow\t${peak - before}\n`);
}

const a = process.argv.slice(2);
const done = a[0] === 'mem' ? mem(a[1], a[2], a[3], a[4])
    : fetchAll(a[0] === 'fetch', a[1], a[2], a[3], a[4], a[5], Number(a[6]), a[7]);
// A stuck run exits (the bench records n/a) instead of hanging.
const guard = setTimeout(() => { console.error('imapflow: timed out'); process.exit(1); },
    300000);
done.then(() => clearTimeout(guard), (e) => { console.error(e); process.exit(1); });
