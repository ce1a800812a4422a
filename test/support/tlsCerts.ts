import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM strings of one key pair and its certificate. */
export interface Pem {
  key: string;
  cert: string;
}

export interface TestPki {
  /** The private CA. */
  ca: Pem;
  /** Another CA nobody trusts. */
  otherCa: Pem;
  /** `localhost` and 127.0.0.1, signed by `ca`. */
  server: Pem;
  /** `localhost` and 127.0.0.1, signed by `ca`, valid only in 2020. */
  expired: Pem;
  /** Only `api.internal`, signed by `ca`: calling it as localhost is a hostname mismatch. */
  wrongName: Pem;
  /** CN `checkout-service`, clientAuth, signed by `ca`. */
  client: Pem;
  /** A client certificate signed by `otherCa`. */
  strangerClient: Pem;
  remove(): void;
}

/**
 * A throw-away PKI made by the `openssl` CLI (OpenSSL 3), in a temp dir removed by `remove()`. `openssl ca`
 * is used for leaves because it alone sets arbitrary validity dates (the expired certificate). ≈ 0.3 s.
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'bw-pki-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = local',
      '[ local ]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir',
      'serial = $dir/serial',
      'default_md = sha256',
      'policy = any',
      'copy_extensions = copy',
      'unique_subject = no',
      '[ any ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  // A fresh P-256 key and, with `-x509`, a self-signed certificate, else a signing request.
  const newKey = (name: string, cn: string, ...req: string[]) =>
    ssl('req', ...req, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${cn}`);
  const pair = (name: string) => ({ key: read(`${name}.key`), cert: read(`${name}.pem`) });
  const makeCa = (name: string, cn: string) => {
    newKey(name, cn, '-x509', '-out', `${name}.pem`, '-days', '2');
    return pair(name);
  };
  const makeLeaf = (name: string, ca: string, cn: string, ext: string, dates: string[] = ['-days', '2']) => {
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), `${(Date.now() % 1e9).toString(16).padStart(8, '0')}\n`);
    newKey(name, cn, '-new', '-out', `${name}.csr`, '-addext', ext);
    ssl('ca', '-batch', '-config', 'ca.cnf', '-cert', `${ca}.pem`, '-keyfile', `${ca}.key`, '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext', ...dates);
    return pair(name);
  };
  const serverExt = 'subjectAltName=DNS:localhost,IP:127.0.0.1';
  const ca = makeCa('ca', 'Breakwater test CA');
  const otherCa = makeCa('other', 'Somebody else');
  return {
    ca,
    otherCa,
    server: makeLeaf('server', 'ca', 'localhost', serverExt),
    expired: makeLeaf('expired', 'ca', 'localhost', serverExt, ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']),
    wrongName: makeLeaf('wrong', 'ca', 'api.internal', 'subjectAltName=DNS:api.internal'),
    client: makeLeaf('client', 'ca', 'checkout-service', 'extendedKeyUsage=clientAuth'),
    strangerClient: makeLeaf('stranger', 'other', 'stranger', 'extendedKeyUsage=clientAuth'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A self-signed certificate and its key, as PEM strings and as files in a temp dir removed by `remove()`. */
export interface SelfSigned extends Pem {
  keyPath: string;
  certPath: string;
  remove(): void;
}

/** A self-signed P-256 certificate for `cn`, with `subjectAltName` `san` (e.g. `DNS:localhost,IP:127.0.0.1`). */
export function makeSelfSigned(cn: string, san = `DNS:${cn}`): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), 'bw-cert-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return {
    key: readFileSync(keyPath, 'utf8'),
    cert: readFileSync(certPath, 'utf8'),
    keyPath,
    certPath,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
