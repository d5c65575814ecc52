/**
 * A FIFO async mutex: `run` starts f once every earlier f has settled. `busy` is
 * true while any is running or waiting, so callers can skip the queue when it is empty.
 */
export class Gate {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;

  get busy(): boolean {
    return this.pending > 0;
  }

  run<T>(f: () => Promise<T>): Promise<T> {
    this.pending++;
    const p = this.tail.then(f);
    const done = () => {
      this.pending--;
    };
    this.tail = p.then(done, done);
    return p;
  }
}
