/**
 * Exclusive subscriptions (`$exclusive/<filter>`, as in EMQX): a normal subscription to
 * `<filter>` that one session at a time may hold. Another session asking for it is refused
 * (SUBACK 0x97, v3 0x80); the holder may subscribe again. The claim goes when the holder
 * unsubscribes the filter (written either way) or its session ends (clean disconnect of a
 * clean session, expiry, takeover with clean start).
 *
 * A persistent session's subscription remembers that it was exclusive (persistence/), so after
 * a restart the recovered session holds its claims again before any client connects. A claim
 * whose holder no longer stands (a session replaced, or without the subscription) is treated
 * as released, so a missed release can never lock a filter for good.
 */
import { assert } from "../../errors.ts";
import type { Session } from "./session.ts";

export class ExclusiveClaims {
  /** Holder of each claimed filter (the filter as the session keys it, without the prefix). */
  readonly #holders = new Map<string, Session>();
  /** Whether a session is the live one for its client id (not ended or replaced). */
  readonly #isCurrent: (session: Session) => boolean;

  constructor(isCurrent: (session: Session) => boolean) {
    this.#isCurrent = isCurrent;
  }

  get size(): number {
    return this.#holders.size;
  }

  /** The session holding `filter`, if its claim still stands. */
  holder(filter: string): Session | undefined {
    const holder = this.#holders.get(filter);
    if (holder === undefined) return undefined;
    if (this.#stands(holder, filter)) return holder;
    this.#holders.delete(filter);
    return undefined;
  }

  /**
   * Claims `filter` for `session` (before it subscribes to it); false when another session
   * holds it. Claiming again what the session holds succeeds.
   */
  claim(session: Session, filter: string): boolean {
    const holder = this.holder(filter);
    if (holder !== undefined && holder !== session) return false;
    this.#holders.set(filter, session);
    return true;
  }

  /** Whether `session` holds the claim on `filter` (also between its claim and subscribe). */
  holds(session: Session, filter: string): boolean {
    return this.#holders.get(filter) === session;
  }

  /** The session no longer subscribes to `filter`: its claim, if any, goes. */
  release(session: Session, filter: string): void {
    if (this.#holders.get(filter) === session) this.#holders.delete(filter);
  }

  /** The session ends: every claim it holds goes (called before its subscriptions are cleared). */
  releaseSession(session: Session): void {
    if (this.#holders.size === 0) return;
    for (const sub of session.subscriptionValues()) this.release(session, sub.filter);
  }

  /** A claim stands while its holder is live and still subscribed to the filter. */
  #stands(holder: Session, filter: string): boolean {
    if (!this.#isCurrent(holder)) return false;
    if (holder.subscriptionCount === 0) return false;
    const sub = holder.subscriptions.get(filter);
    if (sub === undefined) return false;
    assert(sub.shareGroup === null, "an exclusive filter is never shared");
    return true;
  }
}
