// A real server builds large JSON answers off the JS thread (issue 17): one large request of each REST kind, a
// concurrent MLP client answered meanwhile, and the large answer compared byte for byte with one computed here.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { buildModel } from '../scripts/onnx/onnx-writer.mjs';
import { mlpModel } from './support/registry-helpers.js';
import { postOnOwnConnection, startServerChild, whileLarge, type ServerChild } from './support/server-child.js';
import { writeRepository } from './support/test-server.js';
import { rng } from './support/seeded-random.js';

/** A behaviour bound, not a benchmark: generous, so that a loaded machine cannot fail it. */
const COUNT = 16_384;

const identity = (name: string, dtype: string, output = 'y') => buildModel({ graph: {
  name, inputs: [{ name: 'x', dtype, shape: ['n'] }], outputs: [{ name: output, dtype, shape: ['n'] }],
  nodes: [{ op: 'Identity', inputs: ['x'], outputs: [output] }],
} });

/** Text with what JSON must escape, non-ASCII and a 4-byte character; lengths up to ~1.2 KB. */
function texts(seed: number): string[] {
  const r = rng(seed);
  const pieces = ['plain ', 'q"uote ', 'back\\slash ', 'new\nline\t', '\u0001ctl ', 'caf\u00e9 ', '\u65e5\u672c ', '\u{1f600} ', '\u2028 '];
  return Array.from({ length: COUNT }, (_, i) => {
    let s = `${i}:`;
    const n = Math.floor(r() * 120);
    for (let k = 0; k < n; k++) s += pieces[Math.floor(r() * pieces.length)];
    return s;
  });
}

/** Byte strings, a tenth of them not UTF-8 (a lone continuation byte, a truncated sequence, 0xff). */
function byteStrings(seed: number): Buffer[] {
  const r = rng(seed);
  return texts(seed).map((t, i) => {
    const b = Buffer.from(t, 'utf8');
    if (i % 10 !== 3) return b;
    return Buffer.concat([b, Buffer.from([[0x80], [0xe2, 0x82], [0xff]][Math.floor(r() * 3)]!)]);
  });
}

const isUtf8 = (b: Buffer) => Buffer.from(b.toString('utf8'), 'utf8').equals(b) && !b.toString('utf8').includes('\ufffd');
const b64 = (b: Buffer) => ({ b64: b.toString('base64') });

describe('large JSON answers are built off the JS thread while another client is answered', () => {
  let child: ServerChild;
  beforeAll(async () => {
    const repository = writeRepository({
      mlp: { 1: mlpModel(1) }, strings: { 1: identity('strings', 'string', 'text_bytes') }, text: { 1: identity('text', 'string', 'text') },
      id_f32: { 1: identity('id_f32', 'float32') },
    });
    child = await startServerChild({ modelBasePath: repository, fileSystemPollWaitSeconds: 0 });
  }, 30_000);
  afterAll(() => {
    child?.process.kill('SIGKILL');
  });

  const post = (urlPath: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
    postOnOwnConnection(`${child.baseUrl}${urlPath}`, body, headers, 60_000);

  it('KServe REST, 16,384 escaped and non-ASCII strings as JSON in and out: the answer byte for byte', async () => {
    const data = texts(1);
    const res = await whileLarge(child.baseUrl, () => post('/v2/models/text/infer', JSON.stringify({
      id: 'big-\u00e9', inputs: [{ name: 'x', datatype: 'BYTES', shape: [COUNT], data }],
    })));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    const expected = JSON.stringify({
      model_name: 'text', model_version: '1', id: 'big-\u00e9', outputs: [{ name: 'text', datatype: 'BYTES', shape: [COUNT], data }],
    });
    expect(res.body.equals(Buffer.from(expected, 'utf8'))).toBe(true);
  }, 120_000);

  it('KServe REST, 16,384 BYTES as binary data in (a tenth not UTF-8), JSON out: text, or {"b64"} where not UTF-8', async () => {
    const list = byteStrings(2);
    const bytes = Buffer.concat(list.flatMap((s) => { const l = Buffer.alloc(4); l.writeUInt32LE(s.length); return [l, s]; }));
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [COUNT], parameters: { binary_data_size: bytes.length } }] }));
    const res = await whileLarge(child.baseUrl, () => post('/v2/models/text/infer', Buffer.concat([header, bytes]), { 'inference-header-content-length': String(header.length) }));
    expect(res.status).toBe(200);
    const data = list.map((s) => (isUtf8(s) ? s.toString('utf8') : b64(s)));
    expect(data.filter((d) => typeof d !== 'string').length).toBe(1639);   // i % 10 === 3 for i < 16,384
    const expected = JSON.stringify({ model_name: 'text', model_version: '1', outputs: [{ name: 'text', datatype: 'BYTES', shape: [COUNT], data }] });
    expect(res.body.equals(Buffer.from(expected, 'utf8'))).toBe(true);
  }, 120_000);

  it('TF REST columnar, 16,384 strings in, a `_bytes` output: {"outputs": [{"b64": ...}, ...]} byte for byte', async () => {
    const data = texts(3);
    const res = await whileLarge(child.baseUrl, () => post('/v1/models/strings:predict', JSON.stringify({ inputs: data })));
    expect(res.status).toBe(200);
    const expected = JSON.stringify({ outputs: data.map((s) => b64(Buffer.from(s, 'utf8'))) });
    expect(res.body.equals(Buffer.from(expected, 'utf8'))).toBe(true);
  }, 120_000);

  it('TF REST row form, 16,384 strings in, a text output: {"predictions": [...]} byte for byte', async () => {
    const data = texts(4);
    const res = await whileLarge(child.baseUrl, () => post('/v1/models/text:predict', JSON.stringify({ instances: data })));
    expect(res.status).toBe(200);
    expect(res.body.equals(Buffer.from(JSON.stringify({ predictions: data }), 'utf8'))).toBe(true);
  }, 120_000);

  it('TF REST, 200,000 float32 values: every value comes back as its float32, value for value', async () => {
    const r = rng(5);
    const values = Array.from({ length: 200_000 }, (_, i) => (i < 4 ? [0, 1, 1e-7, 3.4e38][i]! : (r() - 0.5) * 10 ** Math.floor(r() * 12 - 6)));
    const res = await whileLarge(child.baseUrl, () => post('/v1/models/id_f32:predict', JSON.stringify({ inputs: values })));
    expect(res.status).toBe(200);
    const outputs = JSON.parse(res.body.toString()).outputs as number[];
    expect(outputs.length).toBe(values.length);
    let wrong = 0;
    // The shortest text that reads back to the float32: read back to float32, it is the value sent, rounded.
    for (let i = 0; i < values.length; i++) if (!Object.is(Math.fround(outputs[i]!), Math.fround(values[i]!))) wrong++;
    expect(wrong).toBe(0);
  }, 120_000);
});
