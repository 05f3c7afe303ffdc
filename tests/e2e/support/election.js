// A real election for the browser tests: a generated electorate, a ballot, and `scrutin serve`.
//
// startElection() runs the offline phase with the real binary (voters generate, keygen,
// hashgen) in a fresh temporary directory, writes a laws.toml whose windows are relative to now
// (two open laws with live results, one closed law, one open law with results embargoed until
// close), starts `scrutin serve --rate-limit 0` on a free loopback port and waits until
// GET /api/v1/health answers 200. election.stop() sends SIGTERM and resolves to the exit code;
// election.start({keepPort: true}) brings it back on the same data; election.close() stops it
// and removes the temporary directory.
//
// Failures throw an Error naming the command and the tail of its output, so a broken fixture
// reads as a clear test error rather than a hang. The server's log is kept in the test output
// directory. Credentials never appear in error messages.
'use strict';

const {spawn, spawnSync} = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const HOUR_MS = 3600 * 1000;
const START_TIMEOUT_MS = 30000;
const STOP_TIMEOUT_MS = 20000;

// The scrutin binary: $SCRUTIN_BIN, else the most recently built build/*/src/apps/scrutin.
function findBinary() {
  const env = process.env.SCRUTIN_BIN;
  if (env) {
    try {
      fs.accessSync(env, fs.constants.X_OK);
    } catch (e) {
      throw new Error(`SCRUTIN_BIN=${env} is not an executable file`);
    }
    return env;
  }
  const buildRoot = path.join(REPO_ROOT, 'build');
  let best = null;
  for (const dir of fs.existsSync(buildRoot) ? fs.readdirSync(buildRoot) : []) {
    const candidate = path.join(buildRoot, dir, 'src', 'apps', 'scrutin');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      const mtime = fs.statSync(candidate).mtimeMs;
      if (!best || mtime > best.mtime) best = {path: candidate, mtime};
    } catch (e) {
      // Not built in this directory.
    }
  }
  if (!best) {
    throw new Error('no scrutin binary: set SCRUTIN_BIN or build the `scrutin` target');
  }
  return best.path;
}

// Where screenshots and server logs go: $SCRUTIN_TEST_OUTPUT, else <build>/test-output/e2e
// for the binary's build directory.
function outputDir() {
  let dir = process.env.SCRUTIN_TEST_OUTPUT;
  if (!dir) {
    const bin = findBinary();
    dir = path.join(path.dirname(bin), '..', '..', 'test-output', 'e2e');
  }
  fs.mkdirSync(dir, {recursive: true});
  return path.resolve(dir);
}

function webRoot() {
  return process.env.SCRUTIN_WEB || path.join(REPO_ROOT, 'web');
}

function run(args, cwd) {
  const p = spawnSync(args[0], args.slice(1), {
    cwd,
    encoding: 'utf8',
    timeout: 120000,
    env: cleanEnv(),
  });
  if (p.error) throw new Error(`${args.join(' ')}: ${p.error.message}`);
  if (p.status !== 0) {
    const out = ((p.stdout || '') + (p.stderr || '')).slice(-2000);
    throw new Error(`${args.join(' ')} exited ${p.status}:\n${out}`);
  }
  return p.stdout;
}

// The caller's SCRUTIN_* variables would be read by `scrutin serve` as flags: drop them so the
// suite's own command line is what runs.
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('SCRUTIN_')) env[k] = v;
  }
  return env;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function rfc3339(ms) {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

// The ballot of every browser test, by role.
function ballot(now) {
  return {
    openA: {
      law_id: 'L2025-001',
      title_fr: 'Loi sur la protection des données personnelles',
      title_en: 'Act respecting the protection of personal information',
      opens_at: rfc3339(now - HOUR_MS),
      closes_at: rfc3339(now + 6 * HOUR_MS),
      results: 'live',
    },
    openB: {
      law_id: 'L2025-002',
      title_fr: 'Loi sur le transport collectif',
      title_en: 'Public Transit Act',
      opens_at: rfc3339(now - HOUR_MS),
      closes_at: rfc3339(now + 6 * HOUR_MS),
      results: 'live',
    },
    closed: {
      law_id: 'L2025-003',
      title_fr: 'Loi sur les heures d’ouverture des commerces',
      title_en: 'Act respecting business hours',
      opens_at: rfc3339(now - 3 * HOUR_MS),
      closes_at: rfc3339(now - HOUR_MS),
      results: 'live',
    },
    embargoed: {
      law_id: 'L2025-004',
      title_fr: 'Loi sur la réforme électorale',
      title_en: 'Electoral Reform Act',
      opens_at: rfc3339(now - HOUR_MS),
      closes_at: rfc3339(now + 6 * HOUR_MS),
      results: 'after_close',
    },
  };
}

function lawsToml(laws) {
  const q = (s) => JSON.stringify(s);  // TOML basic strings accept JSON's escapes for our text.
  return '# Written by tests/e2e for one test run.\n\n' +
      laws.map(
              (l) => ['[[law]]',
                      `id = ${q(l.law_id)}`,
                      `title_fr = ${q(l.title_fr)}`,
                      `title_en = ${q(l.title_en)}`,
                      `opens_at = ${q(l.opens_at)}`,
                      `closes_at = ${q(l.closes_at)}`,
                      `results = ${q(l.results)}`,
                      '',
  ].join('\n'))
          .join('\n');
}

function luhnValid(digits) {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// Registry rows `nas,code,law_id` grouped by voter (one NAS and one code for all laws).
function readVoters(csvPath) {
  const lines = fs.readFileSync(csvPath, 'utf8').split(/\r?\n/).filter(Boolean);
  if (lines[0].trim() !== 'nas,code,law_id') {
    throw new Error(`${csvPath}: unexpected header (want nas,code,law_id)`);
  }
  const byNas = new Map();
  for (const line of lines.slice(1)) {
    const [nas, code, lawId] = line.split(',');
    if (!byNas.has(nas)) byNas.set(nas, {nas, code, laws: new Set()});
    byNas.get(nas).laws.add(lawId);
  }
  return Array.from(byNas.values());
}

class Election {
  constructor(name) {
    this.name = name;
    this.binary = findBinary();
    this.output = outputDir();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scrutin-e2e-'));
    this.logPath = path.join(this.output, `${name}-serve.log`);
    this.proc = null;
    this.exited = null;
    this.nextVoter = 0;
    this.mixSize = 1;
    this.serveArgs = [];
    this.onProcessExit = () => this.proc && this.proc.kill('SIGKILL');
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  prepare(voterCount, laws) {
    const now = Date.now();
    this.laws = (laws || ballot)(now);
    const all = Object.values(this.laws);
    const lawArgs = all.flatMap((l) => ['--law', l.law_id]);
    this.votersCsv = path.join(this.dir, 'voters.csv');
    this.keyFile = path.join(this.dir, 'election.key');
    this.hashes = path.join(this.dir, 'hashes');
    this.lawsFile = path.join(this.dir, 'laws.toml');
    this.data = path.join(this.dir, 'data');
    fs.mkdirSync(this.data);
    run([
      this.binary, 'voters', 'generate', '--count', String(voterCount), ...lawArgs, '--seed',
      '20261101', '--out', this.votersCsv
    ]);
    run([this.binary, 'keygen', '--out', this.keyFile]);
    run([
      this.binary, 'hashgen', '--voters', this.votersCsv, '--key-file', this.keyFile, '--out',
      this.hashes
    ]);
    fs.writeFileSync(this.lawsFile, lawsToml(all));
    this.voters = readVoters(this.votersCsv);
    if (this.voters.length !== voterCount) {
      throw new Error(`voters generate wrote ${this.voters.length} voters, asked ${voterCount}`);
    }
  }

  // Starts the server; with keepPort, on the port it had before (pages stay on their origin).
  async start({keepPort = false} = {}) {
    let lastError = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (!(keepPort && this.port && attempt === 0)) this.port = await freePort();
      const args = [
        'serve', '--hashes', this.hashes, '--laws', this.lawsFile, '--data', this.data,
        '--key-file', this.keyFile, '--listen', `127.0.0.1:${this.port}`, '--rate-limit', '0',
        // Groups of one by default: the pages under test show each vote counted at once (the
        // mixer's k is the secrecy suite's concern, tests/secrecy); record.test.js sets its own.
        '--mix-size', String(this.mixSize), '--web', webRoot(), ...this.serveArgs
      ];
      fs.appendFileSync(this.logPath, `\n# e2e: ${this.binary} ${args.join(' ')}\n`);
      const log = fs.openSync(this.logPath, 'a');
      this.proc = spawn(this.binary, args, {stdio: ['ignore', log, log], env: cleanEnv()});
      fs.closeSync(log);
      this.exited = new Promise(
          (resolve) => this.proc.on(
              'exit', (code, signal) => resolve(code === null ? `signal ${signal}` : code)));
      process.on('exit', this.onProcessExit);
      const ready = await this.waitHealthy();
      if (ready === true) return;
      lastError = ready;
      if (!/in use/i.test(this.logTail())) break;
    }
    throw new Error(`scrutin serve did not start: ${lastError}\n${this.logTail()}`);
  }

  // true when healthy, else a sentence saying why not.
  async waitHealthy() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let exitCode = null;
    this.exited.then((c) => {
      exitCode = c;
    });
    while (Date.now() < deadline) {
      if (exitCode !== null) return `exited ${exitCode} during start-up`;
      try {
        const res = await fetch(this.baseUrl + '/api/v1/health', {
          signal: AbortSignal.timeout(1000),
        });
        if (res.status === 200) return true;
      } catch (e) {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.proc.kill('SIGKILL');
    await this.exited;
    return `not healthy after ${START_TIMEOUT_MS / 1000} s`;
  }

  logTail(n = 3000) {
    try {
      const text = fs.readFileSync(this.logPath, 'utf8');
      return text.slice(-n);
    } catch (e) {
      return '(no server log)';
    }
  }

  // SIGTERM, then the exit code (the CLI contract says 0). SIGKILL and throw after a timeout.
  async stop() {
    if (!this.proc) return null;
    process.removeListener('exit', this.onProcessExit);
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      let timer;
      const timeout = new Promise((r) => {
        timer = setTimeout(() => r('timeout'), STOP_TIMEOUT_MS);
      });
      const result = await Promise.race([this.exited, timeout]);
      clearTimeout(timer);
      if (result === 'timeout') {
        this.proc.kill('SIGKILL');
        await this.exited;
        throw new Error(`scrutin serve ignored SIGTERM for ${STOP_TIMEOUT_MS / 1000} s`);
      }
    }
    return this.exited;
  }

  // Stops the server (if running) and removes the election's temporary directory.
  async close() {
    const code = await this.stop();
    if (!process.env.SCRUTIN_KEEP_TMP) fs.rmSync(this.dir, {recursive: true, force: true});
    return code;
  }

  // A registered voter no other test of this election has used yet.
  takeVoter() {
    if (this.nextVoter >= this.voters.length) throw new Error('fixture: out of voters');
    return this.voters[this.nextVoter++];
  }

  // A NAS with a valid check digit that is in nobody's registration, and a well-formed code.
  unregisteredCredential() {
    const known = new Set(this.voters.map((v) => v.nas));
    for (let n = 999999999; n > 900000000; n--) {
      const nas = String(n);
      if (luhnValid(nas) && !known.has(nas)) return {nas, code: 'ZZ9ZZ9'};
    }
    throw new Error('fixture: no unregistered NAS found');
  }

  // Casts a vote through the API (not the browser) and waits for its final status.
  async castVote(voter, lawId, vote) {
    return (await this.castVoteStatus(voter, lawId, vote)).status;
  }

  // Like castVote, but resolves to the whole final status (with the receipt when accepted).
  async castVoteStatus(voter, lawId, vote) {
    const res = await fetch(this.baseUrl + '/api/v1/vote', {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({nas: voter.nas, code: voter.code, law_id: lawId, vote}),
    });
    const body = await res.json().catch(() => null);
    if (res.status !== 202 || !body || !body.request_id) {
      throw new Error(`POST /api/v1/vote answered ${res.status} ${JSON.stringify(body)}`);
    }
    let status = body;
    const deadline = Date.now() + 15000;
    // The receipt is in the status record only (GET), never in the POST's answer.
    while ((status.status === 'pending' || (status.status === 'accepted' && !status.receipt)) &&
           Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const r2 = await fetch(this.baseUrl + '/api/v1/vote/' + body.request_id);
      status = await r2.json();
    }
    return status;
  }

  async results(lawId) {
    const res = await fetch(this.baseUrl + '/api/v1/results/' + lawId);
    return {status: res.status, body: await res.json().catch(() => null)};
  }
}

// Options: `voters`; `laws`, a function of now (ms) to {role: law} replacing the usual ballot;
// `mixSize` (k, default 1); `serveArgs`, more flags for `scrutin serve`.
async function startElection(name, {voters = 40, laws = null, mixSize = 1, serveArgs = []} = {}) {
  const election = new Election(name);
  election.mixSize = mixSize;
  election.serveArgs = serveArgs;
  election.prepare(voters, laws);
  await election.start();
  return election;
}

module.exports = {
  startElection,
  rfc3339,
  outputDir,
  luhnValid
};
