/** A command line or library option that cannot be used; the command exits with status 2 on one. */
export class UsageError extends Error {
  override name = 'UsageError';

  constructor(
    message: string,
    /** The flag a bad value was given to, and what is wrong with it (when one is to blame). */
    readonly flag?: string,
    readonly problem?: string,
  ) {
    super(message);
  }
}
