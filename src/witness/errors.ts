// The two tlog-witness answers that src/errors.ts has no class for.
import { LogError } from '../errors.js';

/** The client's old size differs from the witness's: answer 409 with the witness's size. (409) */
export class ConflictError extends LogError {
  readonly status = 409;
  constructor(readonly size: number) {
    super(`old size does not match the latest cosigned size ${size}`);
  }
}

/** The checkpoint is well-formed and signed but not consistent with what the witness saw. (422) */
export class UnprocessableEntityError extends LogError {
  readonly status = 422;
}
