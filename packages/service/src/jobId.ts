import { randomBytes } from 'node:crypto';

/** 16 random bytes (128 bits) in base64url: 22 characters that cannot be guessed or enumerated. */
export function newJobId(): string {
  return randomBytes(16).toString('base64url');
}

const JOB_ID = /^[A-Za-z0-9_-]{22}$/;

/** Whether `s` has the shape of a {@link newJobId} id (checked before any lookup, so no other string reaches storage). */
export function isJobId(s: string): boolean {
  return JOB_ID.test(s);
}
