// Fuzz target for ortserve's FlatBuffers protocol: an InferRequest's bytes through the verifier and the decoder.

import type { Tensor } from '../../src/engine/tensor.js';
import { decodeInferRequest, encodeInferRequest } from '../../src/protocol/flatbuffers/messages.js';
import type { FuzzTarget } from '../target.js';

export const flatbuffers: FuzzTarget = {
  name: 'flatbuffers',
  description: 'FlatBuffers InferRequest bytes (POST /v1/flatbuffers/infer and the WebSocket): decodeInferRequest, verifier included',
  seeds: () => {
    const t = (dtype: Tensor['dtype'], shape: number[], data: Tensor['data']): Tensor => ({ dtype, shape, data });
    return [
      encodeInferRequest({
        id: '1', model: 'mlp', inputs: new Map([['x', t('float32', [2, 2], new Float32Array([1, 2, 3, 4]))]]), outputs: ['scores'],
      }),
      encodeInferRequest({
        id: 'many', model: 'multi_io', version: 3, timeoutMicros: 5000, priority: 2,
        inputs: new Map([
          ['i', t('int64', [2], new BigInt64Array([-1n, 2n ** 62n]))],
          ['s', t('string', [2], [new TextEncoder().encode('hi'), new Uint8Array(0)])],
          ['b', t('bool', [1, 1], Uint8Array.from([1]))],
          ['h', t('float16', [0, 4], new Uint16Array(0))],
          ['d', t('float64', [], new Float64Array([Math.PI]))],
        ]),
        outputs: ['a', 'b'],
      }),
      encodeInferRequest({ id: '', model: 'm', label: 'stable', inputs: new Map(), outputs: [] }),
    ];
  },
  run: (input) => [...decodeInferRequest(input).inputs.values()],
};
