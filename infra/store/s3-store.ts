import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { type Config, configFromEnv } from '../../schemas/config.ts';
import { type ObjectStore, type StoredObject, NotFoundError, safeKey, UnsafeKeyError } from './object-store.ts';

export interface S3StoreOptions {
  /** Endpoint, region and path style; defaults to `configFromEnv().s3`. Credentials never come from here. */
  s3?: Config['s3'];
  /** Attempts per request, the first included (SDK standard retry with backoff). */
  maxAttempts?: number;
  /** Give up on a TCP connect after this long, so an unreachable endpoint fails fast instead of hanging. */
  connectTimeoutMs?: number;
  /** Abort a request whose socket stays idle this long (a stalled transfer, not a slow one). */
  idleTimeoutMs?: number;
  /** Multipart part size for streamed uploads (S3 minimum 5 MiB). */
  partSize?: number;
  /** Parts uploaded concurrently; memory held by one streamed upload is about (queueSize + 1) × partSize. */
  queueSize?: number;
  /** ListObjectsV2 page size (≤ 1000); smaller only to exercise pagination in tests. */
  pageSize?: number;
}

const MIB = 1024 * 1024;
const DELETE_BATCH = 1000; // the DeleteObjects limit
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']);

/** Splits `s3://bucket/optional/prefix` into the bucket and a key prefix that is empty or ends in `/`. */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  const bucket = match?.[1];
  if (!match || !bucket) throw new Error(`not an S3 URI (want s3://bucket/optional/prefix): ${JSON.stringify(uri)}`);
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`invalid S3 bucket name ${JSON.stringify(bucket)} in ${uri}`);
  const path = (match[2] ?? '').replace(/\/+$/, '');
  return { bucket, prefix: path === '' ? '' : `${safeKey(path)}/` };
}

/**
 * An ObjectStore on an S3 bucket/prefix (AWS or any S3-compatible server). Credentials come only from
 * the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment first), so
 * they never pass through URIs, argv or job data, and no error message of ours can contain them.
 */
export class S3Store implements ObjectStore {
  readonly uri: string;
  readonly bucket: string;
  /** Key prefix inside the bucket: empty or ending in `/`. */
  readonly prefix: string;
  /** The custom endpoint without credentials (null: AWS), which readers' tools need too (the card's aws/s5cmd commands). */
  readonly endpoint: string | null;
  private readonly client: S3Client;
  private readonly endpointLabel: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly pageSize: number;

  constructor(uri: string, options: S3StoreOptions = {}) {
    const { bucket, prefix } = parseS3Uri(uri);
    const s3 = options.s3 ?? configFromEnv().s3;
    this.bucket = bucket;
    this.prefix = prefix;
    this.uri = `s3://${bucket}${prefix ? `/${prefix.slice(0, -1)}` : ''}`;
    this.endpoint = s3.endpoint ? withoutUserInfo(s3.endpoint) : null;
    this.endpointLabel = this.endpoint ?? `AWS S3 (${s3.region})`;
    this.partSize = options.partSize ?? 8 * MIB;
    this.queueSize = options.queueSize ?? 2;
    this.pageSize = options.pageSize ?? 1000;
    this.client = new S3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: s3.forcePathStyle,
      maxAttempts: options.maxAttempts ?? 5,
      // Since SDK 3.729 the defaults add CRC32 checksums to every request; a streamed body then goes
      // aws-chunked with a checksum trailer, which older MinIO/Ceph reject and s3rver stores verbatim
      // (framing and all, silently corrupting the object). Checksum only where an operation demands it.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: options.connectTimeoutMs ?? 2000,
        // An idle timeout rather than a total one: a multi-GB shard download may rightly take long.
        socketTimeout: options.idleTimeoutMs ?? 120_000,
      },
    });
  }

  async put(key: string, body: Buffer | string | Readable, options: { contentType?: string } = {}): Promise<void> {
    const params = { Bucket: this.bucket, Key: this.fullKey(key), ContentType: options.contentType };
    // As in LocalStore: a trailing slash names a folder prefix, never an object.
    if (key.endsWith('/')) throw new UnsafeKeyError(key, 'a folder key cannot hold an object');
    try {
      if (body instanceof Readable) {
        // Multipart as the stream is read; a body shorter than one part goes up as a single PutObject.
        const upload = new Upload({
          client: this.client,
          params: { ...params, Body: body },
          partSize: this.partSize,
          queueSize: this.queueSize,
          leavePartsOnError: false, // abort the multipart upload so no orphan parts are billed
        });
        await upload.done();
      } else {
        await this.client.send(new PutObjectCommand({ ...params, Body: body }));
      }
    } catch (error) {
      if (body instanceof Readable) body.destroy();
      throw this.failure('put', key, error);
    }
  }

  async putFile(key: string, path: string, options: { contentType?: string } = {}): Promise<void> {
    await this.put(key, createReadStream(path), options);
    await rm(path, { force: true });
  }

  async getStream(key: string): Promise<Readable> {
    const command = new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) });
    try {
      const { Body } = await this.client.send(command);
      if (!(Body instanceof Readable)) throw new Error('response body is not a Node.js stream');
      return Body;
    } catch (error) {
      throw this.failure('get', key, error);
    }
  }

  async readRange(key: string, offset: number, into: Uint8Array): Promise<number> {
    if (into.length === 0) {
      if (!(await this.exists(key))) throw new NotFoundError(key);
      return 0;
    }
    const range = `bytes=${offset}-${offset + into.length - 1}`;
    try {
      const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Range: range }));
      if (!(Body instanceof Readable)) throw new Error('response body is not a Node.js stream');
      let filled = 0;
      for await (const chunk of Body) {
        const bytes = chunk as Buffer;
        if (filled + bytes.length > into.length) throw new Error(`the server sent more than the ${into.length} bytes of ${range}`);
        into.set(bytes, filled);
        filled += bytes.length;
      }
      return filled;
    } catch (error) {
      if ((error as Error).name === 'InvalidRange') return 0; // offset at or past the end
      throw this.failure('get', key, error);
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    const stream = await this.getStream(key);
    try {
      for await (const chunk of stream) chunks.push(chunk as Buffer);
    } catch (error) {
      throw this.failure('get', key, error);
    }
    return Buffer.concat(chunks);
  }

  async size(key: string): Promise<number | null> {
    const command = new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) });
    try {
      const head = await this.client.send(command);
      return head.ContentLength ?? 0;
    } catch (error) {
      const failure = this.failure('head', key, error);
      if (failure instanceof NotFoundError) return null;
      throw failure;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== null;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const fullPrefix = this.prefix + (prefix === '' ? '' : safeKey(prefix));
    let continuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: fullPrefix, ContinuationToken: continuationToken, MaxKeys: this.pageSize }),
        );
      } catch (error) {
        throw this.failure('list', prefix, error);
      }
      // S3 returns keys in UTF-8 byte order, which is the order the interface promises.
      for (const object of page.Contents ?? []) {
        if (object.Key?.startsWith(this.prefix)) yield { key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async delete(keys: string[]): Promise<void> {
    const fullKeys = keys.map((key) => this.fullKey(key));
    for (let start = 0; start < fullKeys.length; start += DELETE_BATCH) {
      const batch = fullKeys.slice(start, start + DELETE_BATCH);
      let result;
      try {
        result = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
      } catch (error) {
        throw this.failure('delete', batch[0], error);
      }
      const errors = result.Errors ?? [];
      if (errors.length > 0) {
        const first = errors[0];
        throw new Error(
          `S3 delete failed for ${errors.length} of ${batch.length} keys under ${this.uri}, ` +
            `first ${JSON.stringify(first?.Key)}: ${first?.Code ?? 'error'} ${first?.Message ?? ''}`.trim(),
        );
      }
    }
  }

  locate(key: string): string {
    return `s3://${this.bucket}/${this.fullKey(key)}`;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private fullKey(key: string): string {
    return this.prefix + safeKey(key);
  }

  /** Turns an SDK error into ours: NotFoundError, "endpoint unreachable", or one naming the operation and object. */
  private failure(operation: string, key: string | undefined, error: unknown): Error {
    if (error instanceof NotFoundError || error instanceof UnsafeKeyError) return error;
    const err = error instanceof Error ? error : new Error(String(error));
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (err.name === 'NoSuchKey' || (err.name === 'NotFound' && status === 404)) return new NotFoundError(key ?? '');
    const where = key ? `s3://${this.bucket}/${this.prefix}${key}` : this.uri;
    const code = networkCode(err);
    if (code !== undefined) {
      const what = code === 'ETIMEDOUT' ? 'timed out' : 'unreachable';
      return new Error(`S3 endpoint ${this.endpointLabel} ${what}: ${redactSecrets(err.message) || code} (${operation} ${where})`, { cause: err });
    }
    if (err.name === 'NoSuchBucket') return new Error(`S3 bucket ${this.bucket} does not exist at ${this.endpointLabel}`, { cause: err });
    if (err.name === 'CredentialsProviderError') {
      return new Error(`no S3 credentials for ${where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (${redactSecrets(err.message)})`, { cause: err });
    }
    const detail = err.message && err.message !== err.name ? `${err.name}: ${redactSecrets(err.message)}` : err.name || 'unknown error';
    return new Error(`S3 ${operation} ${where} failed at ${this.endpointLabel}: ${detail}${status ? ` (HTTP ${status})` : ''}`, { cause: err });
  }
}

function networkCode(error: Error): string | undefined {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    if (current.name === 'TimeoutError') return 'ETIMEDOUT';
  }
  return undefined;
}

/** The SDK never puts credentials in its messages; this makes sure a server's echo cannot either. */
function redactSecrets(text: string): string {
  let out = text;
  for (const name of ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
    const value = process.env[name];
    if (value && value.length >= 8) out = out.split(value).join('[redacted]');
  }
  return out;
}

/** `http://user:pass@host` → `http://host`, so a credential-bearing endpoint never reaches a message. */
function withoutUserInfo(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.href.replace(/\/$/, '');
  } catch {
    return '(invalid endpoint)';
  }
}
