/**
 * A token bucket: `ratePerS` tokens a second, holding at most one second's worth, so a client
 * may burst up to its rate and no further. Pure (the caller passes the time), allocation-free.
 */
export class TokenBucket {
  readonly ratePerS: number;
  #tokens: number;
  #lastMs: number;

  constructor(ratePerS: number, nowMs: number) {
    this.ratePerS = ratePerS;
    this.#tokens = ratePerS;
    this.#lastMs = nowMs;
  }

  /** Takes `count` tokens if there are that many; never goes into debt. */
  tryTake(count: number, nowMs: number): boolean {
    if (this.take(0, nowMs) > 0 || this.#tokens < count) return false;
    this.#tokens -= count;
    return true;
  }

  /**
   * Takes `count` tokens, going into debt if need be. Returns 0 when the bucket was not in
   * debt, else the milliseconds until it is out of debt again (how long to stop reading).
   */
  take(count: number, nowMs: number): number {
    const rate = this.ratePerS;
    const refill = ((nowMs - this.#lastMs) * rate) / 1000;
    this.#lastMs = nowMs;
    this.#tokens = Math.min(rate, this.#tokens + refill) - count;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / rate);
  }
}
