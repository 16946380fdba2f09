// TLS of the REST and gRPC ports: the PEM files of the --ssl_* flags and TF Serving's SSLConfig (--ssl_config_file),
// read and checked at start so that a bad file is an error naming its flag, never a port that fails each handshake.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { OrtServeError } from '../errors.js';
import { MessageReader, type ReaderContext } from './model-config-reader.js';
import { parsePbtxt } from './model-config-pbtxt.js';
import { readConfigText } from './model-config.js';

/** One port's TLS: PEM contents, and the files they came from where there are files (uWS reads files itself). */
export interface TlsSettings {
  cert: Buffer;
  key: Buffer;
  /** CA bundle that client certificates must chain to. */
  ca: Buffer | undefined;
  /** Refuse clients without a certificate signed by `ca` (mTLS). */
  clientVerify: boolean;
  files?: { cert: string; key: string; ca: string | undefined };
}

export interface TlsFlags {
  sslCertFile: string;
  sslKeyFile: string;
  sslCaFile: string;
  sslClientVerify: boolean;
  sslConfigFile: string;
  maxConfigBytes: number;
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    // The message names the file and the system's reason; never any of its contents.
    throw new OrtServeError('ERR_CONFIG', `${flag}: cannot read '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** OpenSSL's reason, without anything that could come from a key (its messages carry codes and names only). */
function reason(err: unknown): string {
  return (err as Error).message.split('\n')[0]!;
}

/**
 * Checks that `cert` parses, `key` parses and matches it, and `ca` parses, naming the field that is wrong (the flag,
 * or the SSLConfig field). Throws ERR_CONFIG.
 */
function checkPem(settings: TlsSettings, names: { cert: string; key: string; ca: string }): void {
  const step = (name: string, options: Parameters<typeof createSecureContext>[0]) => {
    try {
      createSecureContext(options);
    } catch (err) {
      throw new OrtServeError('ERR_CONFIG', `${name}: not a usable PEM ${name === names.ca ? 'CA certificate bundle' : name === names.cert ? 'certificate' : 'private key matching the certificate'} (${reason(err)})`);
    }
  };
  if (!settings.cert.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
    throw new OrtServeError('ERR_CONFIG', `${names.cert}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)`);
  }
  step(names.cert, { cert: settings.cert });
  step(names.key, { cert: settings.cert, key: settings.key });
  if (settings.ca !== undefined) {
    if (!settings.ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
      throw new OrtServeError('ERR_CONFIG', `${names.ca}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)`);
    }
    step(names.ca, { ca: settings.ca });
  }
}

/** The TLS of the --ssl_* flags (both ports), or undefined when --ssl_cert_file and --ssl_key_file are not set. */
export function tlsFromFlags(flags: TlsFlags): TlsSettings | undefined {
  const { sslCertFile, sslKeyFile, sslCaFile, sslClientVerify } = flags;
  if (sslCertFile === '' && sslKeyFile === '') {
    if (sslClientVerify || sslCaFile !== '') {
      throw new OrtServeError('ERR_CONFIG', `--${sslClientVerify ? 'ssl_client_verify' : 'ssl_ca_file'}: needs TLS on, with --ssl_cert_file and --ssl_key_file`);
    }
    return undefined;
  }
  if (sslCertFile === '') throw new OrtServeError('ERR_CONFIG', '--ssl_cert_file: needed with --ssl_key_file');
  if (sslKeyFile === '') throw new OrtServeError('ERR_CONFIG', '--ssl_key_file: needed with --ssl_cert_file');
  if (sslClientVerify && sslCaFile === '') {
    throw new OrtServeError('ERR_CONFIG', '--ssl_client_verify: needs --ssl_ca_file, the CA that client certificates must chain to');
  }
  const settings: TlsSettings = {
    cert: readPem(sslCertFile, '--ssl_cert_file'),
    key: readPem(sslKeyFile, '--ssl_key_file'),
    ca: sslCaFile === '' ? undefined : readPem(sslCaFile, '--ssl_ca_file'),
    clientVerify: sslClientVerify,
    files: { cert: sslCertFile, key: sslKeyFile, ca: sslCaFile === '' ? undefined : sslCaFile },
  };
  checkPem(settings, { cert: '--ssl_cert_file', key: '--ssl_key_file', ca: '--ssl_ca_file' });
  return settings;
}

const SSL_CONFIG_FIELDS = ['server_key', 'server_cert', 'custom_ca', 'client_verify'] as const;

/**
 * TF Serving's SSLConfig in text format (server_key, server_cert, custom_ca: PEM contents, not paths; client_verify)
 * as gRPC's TLS. Throws ERR_CONFIG naming the file, the line and the field.
 */
export function parseSslConfig(text: string, source: string): TlsSettings {
  const ctx: ReaderContext = { source, format: 'pbtxt' };
  const reader = new MessageReader(parsePbtxt(text, ctx), '', ctx, SSL_CONFIG_FIELDS);
  const pem = (name: string) => Buffer.from(reader.string(name, true)!, 'utf8');
  const ca = reader.string('custom_ca');
  const settings: TlsSettings = {
    cert: pem('server_cert'),
    key: pem('server_key'),
    ca: ca === undefined || ca === '' ? undefined : Buffer.from(ca, 'utf8'),
    clientVerify: reader.bool('client_verify') ?? false,
  };
  if (settings.clientVerify && settings.ca === undefined) {
    throw new OrtServeError('ERR_CONFIG', `${source}: client_verify: needs custom_ca, the CA that client certificates must chain to`);
  }
  checkPem(settings, { cert: `${source}: server_cert`, key: `${source}: server_key`, ca: `${source}: custom_ca` });
  return settings;
}

/** The TLS of each port: REST from the --ssl_* flags; gRPC from --ssl_config_file when set, else the same flags. */
export function readTls(flags: TlsFlags): { rest: TlsSettings | undefined; grpc: TlsSettings | undefined } {
  const rest = tlsFromFlags(flags);
  if (flags.sslConfigFile === '') return { rest, grpc: rest };
  const text = readConfigText(flags.sslConfigFile, flags.maxConfigBytes, '--ssl_config_file');
  return { rest, grpc: parseSslConfig(text, `--ssl_config_file ${path.basename(flags.sslConfigFile)}`) };
}
