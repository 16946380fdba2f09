// A request of a sequence: in order behind the sequence's earlier requests, on the version the sequence started on,
// and the registry's book of open sequences kept in step with the native table.

import { OrtServeError, fail } from '../errors.js';
import type { ModelRegistry, VersionHandle } from '../registry/model-registry.js';
import type { InferRequest, InferResponse, ProtocolNames } from './infer-request.js';
import { runOn } from './run-on-version.js';
import { sequenceIdText, sequenceKey } from './sequence-request.js';

/**
 * Runs a request that carries sequence parameters. A start runs on the version the request names (the latest by
 * default) and pins the sequence there; later requests of the sequence run on that version, even after a newer one
 * became AVAILABLE, until an end or the idle timeout. Throws ERR_SEQUENCE (the model is not stateful, or the request
 * names another version than the sequence's), ERR_SEQUENCE_UNKNOWN, ERR_SEQUENCE_CONFLICT, ERR_SEQUENCE_TABLE_FULL,
 * and whatever the run throws.
 */
export async function runSequenceRequest(registry: ModelRegistry, request: InferRequest, names: ProtocolNames): Promise<InferResponse> {
  const sequence = request.sequence!;
  const key = sequenceKey(sequence.id);
  const book = registry.sequences;
  const shown = sequenceIdText(sequence.id);
  return book.serialize(request.model, key, async () => {
    let handle: VersionHandle;
    let owned = false;
    let pinned = book.pinned(request.model, key);
    if (sequence.start) {
      // The table may have idled it out since the last sweep: ask before calling the start a conflict.
      if (pinned !== undefined) book.sweep(request.model);
      pinned = book.pinned(request.model, key);
      if (pinned !== undefined) {
        fail('ERR_SEQUENCE_CONFLICT', `sequence_id ${shown}: the sequence is already open (on version ${pinned.version.version}); end it with sequence_end, or wait for its idle timeout, before starting it again`);
      }
      handle = registry.acquire(request.model, request.selector);
      owned = true;
    } else {
      if (pinned === undefined) {
        const v = registry.resolve(request.model, request.selector);
        if (!v.session.stateful) fail('ERR_SEQUENCE', `sequence_id: model '${v.model}' has no sequence_batching; send the request without sequence parameters`);
        fail('ERR_SEQUENCE_UNKNOWN', `sequence_id ${shown}: the sequence is not open; its first request needs sequence_start (or it already ended, or idled out)`);
      }
      const named = request.selector.version;
      if (named !== undefined && named !== pinned.version.version) {
        fail('ERR_SEQUENCE', `sequence_id ${shown}: the sequence runs on version ${pinned.version.version}, where it started; the request names version ${named}`);
      }
      handle = pinned;
    }
    try {
      const v = handle.version;
      if (!v.session.stateful) fail('ERR_SEQUENCE', `sequence_id: model '${v.model}' version ${v.version} has no sequence_batching; send the request without sequence parameters`);
      const corrid = v.config.sequenceBatching?.controlInputs.find((c) => c.kind === 'CONTROL_SEQUENCE_CORRID');
      if (typeof sequence.id === 'string' && corrid !== undefined && corrid.dtype !== 'string') {
        fail('ERR_SEQUENCE', `sequence_id ${shown}: the model's CORRID input '${corrid.name}' is ${corrid.dtype}; send an integer sequence_id`);
      }
      // The sequence book holds (and lets go of) the version: the run's own handle has nothing to release.
      const response = await runOn(registry, { version: v, finish: () => {} }, request, names);
      if (sequence.start && !sequence.end) {
        book.opened(request.model, key, handle, v.config.sequenceBatching?.maxSequenceIdleMicros ?? 0);
        owned = false;
      } else if (!sequence.start && sequence.end) {
        book.closedSequence(request.model, key);
      }
      return response;
    } catch (err) {
      // The table no longer has it (it idled out between sweeps): the book lets it go too.
      if (!sequence.start && err instanceof OrtServeError && err.code === 'ERR_SEQUENCE_UNKNOWN') book.closedSequence(request.model, key);
      throw err;
    } finally {
      if (owned) handle.release();
    }
  });
}
