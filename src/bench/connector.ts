/**
 * Opens one worker's connections: paced at the worker's share of --conn-rate (or as fast as
 * possible), never more than HANDSHAKES_PENDING_MAX handshakes at once, and never past the
 * connect phase's deadline: clients not tried by then fail as `connect:deadline`, and handshakes
 * still pending are cut off the same way.
 */
import { assert } from "../errors.ts";
import { type Client, ClientState } from "./client.ts";
import { HANDSHAKES_PENDING_MAX } from "./limits.ts";
import { dueAtMs, dueCount } from "./pacing.ts";

export interface ConnectorHooks {
  /** Starts the client's handshake; its outcome must reach settle() exactly once. */
  open(client: Client): void;
  /** Records a client that was never tried as failed (no settle() follows). */
  fail(client: Client, kind: string): void;
  /** Every client has connected or failed. */
  finished(): void;
}

export class Connector {
  private readonly clients: readonly Client[];
  private readonly ratePerSecond: number;
  private readonly hooks: ConnectorHooks;
  private next = 0;
  private pending = 0;
  private settled = 0;
  private startMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private over = false;
  private deadlinePassed = false;

  constructor(clients: readonly Client[], ratePerSecond: number, hooks: ConnectorHooks) {
    assert(ratePerSecond >= 0, `connect rate ${ratePerSecond}`);
    this.clients = clients;
    this.ratePerSecond = ratePerSecond;
    this.hooks = hooks;
  }

  start(deadlineMs: number): void {
    assert(this.startMs === 0, "connector started twice");
    this.startMs = performance.now();
    this.deadlineTimer = setTimeout(() => this.cutOff(), deadlineMs);
    this.schedule();
    this.checkFinished();
  }

  /** Ends the phase early (the run is stopping): nothing more is opened or reported. */
  stop(): void {
    this.over = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.timer = null;
    this.deadlineTimer = null;
  }

  /** One client's handshake ended, either way. */
  settle(): void {
    assert(this.pending > 0, "settle() without a pending handshake");
    assert(this.settled < this.clients.length, "more handshakes settled than clients");
    this.pending--;
    this.settled++;
    if (!this.checkFinished() && this.timer === null) this.schedule();
  }

  private schedule(): void {
    this.timer = null;
    if (this.over || this.deadlinePassed) return;
    const elapsedMs = performance.now() - this.startMs;
    const paced = this.ratePerSecond > 0;
    const due = paced ? dueCount(this.ratePerSecond, elapsedMs) : this.clients.length;
    while (
      this.next < this.clients.length &&
      this.next < due &&
      this.pending < HANDSHAKES_PENDING_MAX
    ) {
      const client = this.clients[this.next++];
      this.pending++;
      this.hooks.open(client);
    }
    // When the pending limit is what stopped us, settle() schedules again.
    if (paced && this.next < this.clients.length && this.pending < HANDSHAKES_PENDING_MAX) {
      const delayMs = dueAtMs(this.ratePerSecond, this.next) - elapsedMs;
      this.timer = setTimeout(() => this.schedule(), Math.max(1, delayMs));
    }
  }

  /** The phase deadline: whatever has not connected by now has failed. */
  private cutOff(): void {
    this.deadlineTimer = null;
    if (this.over) return;
    this.deadlinePassed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.next < this.clients.length) {
      this.hooks.fail(this.clients[this.next++], "connect:deadline");
      this.settled++;
    }
    // Each abort reaches settle() through the client's connectFailed event.
    for (const client of this.clients) {
      if (client.state === ClientState.CONNECTING) client.abortConnect("connect:deadline");
    }
    this.checkFinished();
  }

  private checkFinished(): boolean {
    if (this.over) return true;
    if (this.settled < this.clients.length) return false;
    this.over = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.timer = null;
    this.deadlineTimer = null;
    this.hooks.finished();
    return true;
  }
}
