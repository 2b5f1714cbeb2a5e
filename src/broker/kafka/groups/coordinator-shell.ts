/**
 * The clock and timer around the pure GroupCoordinator: each call passes Date.now(), and one
 * timer is kept armed at the coordinator's next deadline. Join and sync answers become promises.
 */
import { randomUUID } from "node:crypto";
import type { JoinOutcome, SyncOutcome } from "./group.ts";
import {
  GroupCoordinator,
  type JoinInput,
  type LeavingMember,
  type MemberRef,
  type SyncInput,
} from "./group-coordinator.ts";

export interface GroupSettings {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
}

export class CoordinatorShell {
  readonly coordinator: GroupCoordinator;
  #timer: NodeJS.Timeout | null = null;
  #armedAt = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(settings: GroupSettings) {
    this.coordinator = new GroupCoordinator({
      ...settings,
      newMemberId: (clientId) => `${clientId === "" ? "member" : clientId}-${randomUUID()}`,
    });
  }

  join(input: JoinInput): Promise<JoinOutcome> {
    return this.#run((now, resolve: (o: JoinOutcome) => void) =>
      this.coordinator.join(now, input, resolve),
    );
  }

  sync(input: SyncInput): Promise<SyncOutcome> {
    return this.#run((now, resolve: (o: SyncOutcome) => void) =>
      this.coordinator.sync(now, input, resolve),
    );
  }

  heartbeat(ref: MemberRef): number {
    return this.#apply((now) => this.coordinator.heartbeat(now, ref));
  }

  leave(groupId: string, leaving: readonly LeavingMember[]): number[] {
    return this.#apply((now) => this.coordinator.leave(now, groupId, leaving));
  }

  checkCommit(ref: MemberRef): number {
    return this.#apply((now) => this.coordinator.checkCommit(now, ref));
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #run<T>(call: (now: number, resolve: (value: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve) => this.#apply((now) => call(now, resolve)));
  }

  #apply<T>(call: (now: number) => T): T {
    const result = call(Date.now());
    this.#arm();
    return result;
  }

  #arm(): void {
    if (this.#stopped) return;
    const next = this.coordinator.nextDeadline();
    if (next === null || next >= this.#armedAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#armedAt = next;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, next - Date.now()));
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = null;
    this.#armedAt = Number.POSITIVE_INFINITY;
    this.coordinator.tick(Date.now());
    this.#arm();
  }
}
