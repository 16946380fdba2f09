// Test certificates made with the openssl command at test time: a CA, a server certificate for 127.0.0.1/localhost,
// a client certificate it signed, and a client certificate from another ("rogue") CA.

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './registry-helpers.js';

export interface TestCerts {
  dir: string;
  /** Paths of the PEM files. */
  files: Record<'caCert' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'rogueCert' | 'rogueKey', string>;
  /** The contents of a file above. */
  pem(name: keyof TestCerts['files']): string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function newKeyAndCsr(dir: string, name: string, cn: string): void {
  openssl(dir, ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
}

function newCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function sign(dir: string, name: string, ca: string, extensions: string): void {
  writeFileSync(path.join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`,
    '-days', '2', '-extfile', `${name}.ext`]);
}

/** Makes a fresh set in a temporary directory (the caller removes `dir`). Throws if openssl is missing. */
export function makeCerts(): TestCerts {
  const dir = tempDir('ortserve-certs-');
  newCa(dir, 'ca');
  newCa(dir, 'rogue-ca');
  newKeyAndCsr(dir, 'server', 'localhost');
  sign(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  newKeyAndCsr(dir, 'client', 'test-client');
  sign(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth\n');
  newKeyAndCsr(dir, 'rogue', 'rogue-client');
  sign(dir, 'rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const files = {
    caCert: path.join(dir, 'ca.crt'), serverCert: path.join(dir, 'server.crt'), serverKey: path.join(dir, 'server.key'),
    clientCert: path.join(dir, 'client.crt'), clientKey: path.join(dir, 'client.key'),
    rogueCert: path.join(dir, 'rogue.crt'), rogueKey: path.join(dir, 'rogue.key'),
  };
  return { dir, files, pem: (name) => readFileSync(files[name], 'utf8') };
}
