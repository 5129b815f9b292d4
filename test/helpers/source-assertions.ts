// Assertions shared by the source adapters' tests.
import assert from 'node:assert/strict';
import { type ClipRecord, clipRecordSchema } from '../../schemas/clip.ts';
import { ClipError, type FailureReason } from '../../schemas/failure.ts';

/** Every record a source lists, each checked against the record schema. */
export async function collectRecords(source: { records(): AsyncIterable<ClipRecord> }): Promise<ClipRecord[]> {
  const records: ClipRecord[] = [];
  for await (const record of source.records()) records.push(clipRecordSchema.parse(record));
  return records;
}

/** The record with this provider id; fails the test, listing the ids there are, when absent. */
export function byId(records: ClipRecord[], id: string): ClipRecord {
  const record = records.find((r) => r.id === id);
  assert.ok(record, `no record ${id} in ${records.map((r) => r.id).join(', ')}`);
  return record;
}

/** Rejects with a ClipError of this reason (and message, when given). */
export async function rejectsWith(promise: Promise<unknown>, reason: FailureReason, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ClipError, `expected a ClipError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}
