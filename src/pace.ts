/**
 * Long work on the event loop done in steps: between two steps, `turn()` lets every other
 * callback that waits (a health check, another client's request) run once the work has held the
 * loop for `budgetMs`. The work is no slower when nothing else waits.
 */
export class Pacer {
  private since = performance.now();
  /** Times the work let the event loop run. */
  turns = 0;

  constructor(private readonly budgetMs = 10) {}

  async turn(): Promise<void> {
    if (performance.now() - this.since < this.budgetMs) return;
    // setImmediate, not a resolved promise: I/O callbacks run before it does.
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.turns++;
    this.since = performance.now();
  }
}
