/**
 * Kafka's classic consumer group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) as a
 * pure state machine: every call takes the time, nothing here reads a clock or sets a timer.
 * The shell (coordinator-shell.ts) calls tick() at nextDeadline(). Join and sync answers that
 * must wait for other members are callbacks, called once.
 *
 * The rules follow Kafka's GroupCoordinator: a member joining, leaving or changing its
 * protocols moves the group to PreparingRebalance; the join completes when every member has
 * rejoined, or at the rebalance deadline (the largest rebalance timeout) without those that
 * did not; the generation then goes up and the leader gets everyone's metadata, and its
 * SyncGroup hands out the assignments (Stable). A member silent for its session timeout is
 * removed, which rebalances the others.
 *
 * Static members (KIP-345, JoinGroup v5+) carry a group instance id that outlives their member
 * id: one that comes back without a member id (a restarted consumer) takes over its old
 * membership under a new id, with its assignment and without a rebalance while the group is
 * stable and its protocols are unchanged; requests from the old id are then fenced
 * (FENCED_INSTANCE_ID). Such a member is not expected to leave: its session timeout removes it.
 */
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import {
  EMPTY_ASSIGNMENT,
  Group,
  type GroupProtocol,
  type JoinCallback,
  type JoinOutcome,
  type Member,
  type SyncCallback,
  type SyncOutcome,
  sameProtocols,
} from "./group.ts";

export interface CoordinatorOptions {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** Kafka's group.initial.rebalance.delay.ms. */
  initialRebalanceDelayMs: number;
  newMemberId: (clientId: string) => string;
}

export interface JoinInput {
  groupId: string;
  /** "" for a member without an id yet. */
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: GroupProtocol[];
  /** JoinGroup v4+: a member without an id gets one with MEMBER_ID_REQUIRED and rejoins. */
  requireKnownMemberId: boolean;
  /** JoinGroup v5+: the static member's group instance id; null for a dynamic member. */
  groupInstanceId: string | null;
}

export interface SyncInput {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** The leader's assignments; ignored for other members. */
  assignments: ReadonlyMap<string, Buffer>;
}

export interface MemberRef {
  groupId: string;
  generationId: number;
  memberId: string;
  /** Given by SyncGroup v3+, Heartbeat v3+, OffsetCommit v7+ from a static member. */
  groupInstanceId: string | null;
}

/** LeaveGroup: v0-2 name a member id; v3 may name a static member by its instance id alone. */
export interface LeavingMember {
  memberId: string;
  groupInstanceId: string | null;
}

function joinError(errorCode: number, memberId = ""): JoinOutcome {
  return { errorCode, generationId: -1, protocolName: null, leader: "", memberId, members: [] };
}

export class GroupCoordinator {
  readonly #options: CoordinatorOptions;
  readonly #groups = new Map<string, Group>();

  constructor(options: CoordinatorOptions) {
    this.#options = options;
  }

  group(groupId: string): Group | undefined {
    return this.#groups.get(groupId);
  }

  /** Ids of the groups that have (or had, since start) members. */
  groupIds(): string[] {
    return [...this.#groups.keys()];
  }

  /**
   * Forgets a group with no members and no join under way (DeleteGroups); false, and nothing
   * done, for any other. An unknown group counts as removed.
   */
  removeIfEmpty(groupId: string): boolean {
    const group = this.#groups.get(groupId);
    if (group === undefined) return true;
    if (group.state !== "Empty" || group.members.size > 0 || group.pending.size > 0) return false;
    this.#groups.delete(groupId);
    return true;
  }

  join(now: number, input: JoinInput, respond: JoinCallback): void {
    const immediate = this.#join(now, input, respond);
    if (immediate !== null) respond(immediate);
  }

  sync(now: number, input: SyncInput, respond: SyncCallback): void {
    const immediate = this.#sync(now, input, respond);
    if (immediate !== null) respond(immediate);
  }

  /** The answer when it is known now; null when `respond` is kept for later. */
  #join(now: number, input: JoinInput, respond: JoinCallback): JoinOutcome | null {
    const { minSessionTimeoutMs, maxSessionTimeoutMs } = this.#options;
    if (input.groupId === "") return joinError(KafkaError.INVALID_GROUP_ID);
    if (
      input.sessionTimeoutMs < minSessionTimeoutMs ||
      input.sessionTimeoutMs > maxSessionTimeoutMs
    ) {
      return joinError(KafkaError.INVALID_SESSION_TIMEOUT, input.memberId);
    }
    let group = this.#groups.get(input.groupId);
    if (group === undefined) {
      if (input.memberId !== "") return joinError(KafkaError.UNKNOWN_MEMBER_ID, input.memberId);
      group = new Group(input.groupId);
      this.#groups.set(input.groupId, group);
    }
    if (!this.#supports(group, input)) {
      return joinError(KafkaError.INCONSISTENT_GROUP_PROTOCOL, input.memberId);
    }
    const instanceId = input.groupInstanceId;
    if (instanceId !== null) {
      const known = group.staticMembers.get(instanceId);
      if (input.memberId === "") {
        if (known !== undefined) {
          const old = group.members.get(known) as Member;
          return this.#replaceStatic(now, group, old, input, respond);
        }
        // A static member gets its id at once: its instance id already names it.
        this.#addMember(now, group, this.#options.newMemberId(input.clientId), input, respond);
        return null;
      }
      if (known !== undefined && known !== input.memberId) {
        return joinError(KafkaError.FENCED_INSTANCE_ID, input.memberId);
      }
    }
    if (input.memberId === "") {
      const id = this.#options.newMemberId(input.clientId);
      if (input.requireKnownMemberId) {
        group.pending.set(id, now + input.sessionTimeoutMs);
        return joinError(KafkaError.MEMBER_ID_REQUIRED, id);
      }
      this.#addMember(now, group, id, input, respond);
      return null;
    }
    if (group.pending.delete(input.memberId)) {
      this.#addMember(now, group, input.memberId, input, respond);
      return null;
    }
    const member = group.members.get(input.memberId);
    if (member === undefined) return joinError(KafkaError.UNKNOWN_MEMBER_ID, input.memberId);
    const unchanged = sameProtocols(member.protocols, input.protocols);
    if (group.state === "CompletingRebalance" && unchanged) {
      // The member lost our join answer; the generation it missed is still current.
      member.sessionDeadline = now + member.sessionTimeoutMs;
      return group.joinOutcomeFor(member);
    }
    if (group.state === "Stable" && unchanged && member.id !== group.leaderId) {
      member.sessionDeadline = now + member.sessionTimeoutMs;
      return { ...group.joinOutcomeFor(member), members: [] };
    }
    this.#updateMember(now, group, member, input, respond);
    return null;
  }

  #sync(now: number, input: SyncInput, respond: SyncCallback): SyncOutcome | null {
    const group = this.#groups.get(input.groupId);
    const member = group?.members.get(input.memberId);
    if (group !== undefined && fenced(group, input)) {
      return { errorCode: KafkaError.FENCED_INSTANCE_ID, assignment: EMPTY_ASSIGNMENT };
    }
    if (group === undefined || member === undefined) {
      return { errorCode: KafkaError.UNKNOWN_MEMBER_ID, assignment: EMPTY_ASSIGNMENT };
    }
    if (input.generationId !== group.generationId) {
      return { errorCode: KafkaError.ILLEGAL_GENERATION, assignment: EMPTY_ASSIGNMENT };
    }
    if (group.state === "PreparingRebalance") {
      return { errorCode: KafkaError.REBALANCE_IN_PROGRESS, assignment: EMPTY_ASSIGNMENT };
    }
    member.sessionDeadline = now + member.sessionTimeoutMs;
    if (group.state === "Stable") {
      return { errorCode: KafkaError.NONE, assignment: member.assignment };
    }
    member.awaitingSync?.({
      errorCode: KafkaError.REBALANCE_IN_PROGRESS,
      assignment: EMPTY_ASSIGNMENT,
    });
    member.awaitingSync = respond;
    if (member.id !== group.leaderId) return null;
    for (const m of group.members.values()) {
      m.assignment = input.assignments.get(m.id) ?? EMPTY_ASSIGNMENT;
    }
    group.state = "Stable";
    for (const m of group.members.values()) {
      const callback = m.awaitingSync;
      m.awaitingSync = null;
      callback?.({ errorCode: KafkaError.NONE, assignment: m.assignment });
    }
    return null;
  }

  heartbeat(now: number, ref: MemberRef): number {
    const group = this.#groups.get(ref.groupId);
    const member = group?.members.get(ref.memberId);
    if (group !== undefined && fenced(group, ref)) return KafkaError.FENCED_INSTANCE_ID;
    if (group === undefined || member === undefined) return KafkaError.UNKNOWN_MEMBER_ID;
    if (ref.generationId !== group.generationId) return KafkaError.ILLEGAL_GENERATION;
    member.sessionDeadline = now + member.sessionTimeoutMs;
    return group.state === "PreparingRebalance"
      ? KafkaError.REBALANCE_IN_PROGRESS
      : KafkaError.NONE;
  }

  /** Removes the members; one error code per member, in order. */
  leave(now: number, groupId: string, leaving: readonly LeavingMember[]): number[] {
    const group = this.#groups.get(groupId);
    return leaving.map(({ memberId, groupInstanceId }) => {
      if (group === undefined) return KafkaError.UNKNOWN_MEMBER_ID;
      let id = memberId;
      if (groupInstanceId !== null) {
        const known = group.staticMembers.get(groupInstanceId);
        if (known === undefined) return KafkaError.UNKNOWN_MEMBER_ID;
        if (memberId !== "" && memberId !== known) return KafkaError.FENCED_INSTANCE_ID;
        id = known;
      }
      if (group.pending.delete(id)) {
        this.#checkJoinComplete(now, group);
        return KafkaError.NONE;
      }
      const member = group.members.get(id);
      if (member === undefined) return KafkaError.UNKNOWN_MEMBER_ID;
      this.#removeAndRebalance(now, group, member);
      return KafkaError.NONE;
    });
  }

  /**
   * Whether an OffsetCommit may be stored. A negative generation is a client that keeps its own
   * assignment (kcat -C, assign()): allowed while the group has no members, whatever member id
   * it sends (Kafka ignores it then too); with members, only a member's commit counts.
   */
  checkCommit(now: number, ref: MemberRef): number {
    const group = this.#groups.get(ref.groupId);
    if (ref.generationId < 0) {
      if (group === undefined || group.state === "Empty") return KafkaError.NONE;
      if (ref.memberId === "") return KafkaError.UNKNOWN_MEMBER_ID;
    }
    if (group === undefined) return KafkaError.ILLEGAL_GENERATION;
    if (fenced(group, ref)) return KafkaError.FENCED_INSTANCE_ID;
    const member = group.members.get(ref.memberId);
    if (member === undefined) return KafkaError.UNKNOWN_MEMBER_ID;
    if (ref.generationId !== group.generationId) return KafkaError.ILLEGAL_GENERATION;
    if (group.state === "CompletingRebalance") return KafkaError.REBALANCE_IN_PROGRESS;
    member.sessionDeadline = now + member.sessionTimeoutMs;
    return KafkaError.NONE;
  }

  /** Applies every deadline that has passed: session timeouts, rebalance timeouts. */
  tick(now: number): void {
    for (const group of this.#groups.values()) {
      let changed = false;
      for (const [id, deadline] of group.pending) {
        if (deadline <= now) {
          group.pending.delete(id);
          changed = true;
        }
      }
      for (const member of [...group.members.values()]) {
        // Removing one member can complete a join, which drops the other silent ones.
        if (group.members.get(member.id) !== member) continue;
        if (this.#waiting(member) || member.sessionDeadline > now) continue;
        this.#removeAndRebalance(now, group, member);
      }
      if (changed || group.state === "PreparingRebalance") this.#checkJoinComplete(now, group);
    }
  }

  /** When tick() next has something to do; null when nothing is pending. */
  nextDeadline(): number | null {
    let next = Number.POSITIVE_INFINITY;
    for (const group of this.#groups.values()) {
      for (const deadline of group.pending.values()) next = Math.min(next, deadline);
      for (const member of group.members.values()) {
        if (!this.#waiting(member)) next = Math.min(next, member.sessionDeadline);
      }
      if (group.state === "PreparingRebalance") {
        next = Math.min(next, group.initialDelayUntil ?? group.rebalanceDeadline);
      }
    }
    return Number.isFinite(next) ? next : null;
  }

  /** A member blocked in a join or sync is waiting on us, not silent. */
  #waiting(member: Member): boolean {
    return member.awaitingJoin !== null || member.awaitingSync !== null;
  }

  #supports(group: Group, input: JoinInput): boolean {
    if (input.protocolType === "" || input.protocols.length === 0) return false;
    if (group.members.size === 0) return true;
    if (group.protocolType !== input.protocolType) return false;
    const candidates = group.candidateProtocols();
    return input.protocols.some((p) => candidates.has(p.name));
  }

  #addMember(now: number, group: Group, id: string, input: JoinInput, respond: JoinCallback): void {
    const member: Member = {
      id,
      clientId: input.clientId,
      clientHost: input.clientHost,
      instanceId: input.groupInstanceId,
      sessionTimeoutMs: input.sessionTimeoutMs,
      rebalanceTimeoutMs: input.rebalanceTimeoutMs,
      protocols: input.protocols,
      assignment: EMPTY_ASSIGNMENT,
      awaitingJoin: respond,
      awaitingSync: null,
      sessionDeadline: now + input.sessionTimeoutMs,
    };
    group.members.set(id, member);
    if (member.instanceId !== null) group.staticMembers.set(member.instanceId, id);
    group.protocolType ??= input.protocolType;
    group.leaderId ??= id;
    if (group.state === "PreparingRebalance" && group.initialDelayUntil !== null) {
      // Kafka's delayed initial join: each newcomer buys another delay, within the timeout.
      group.initialDelayUntil = Math.min(
        now + this.#options.initialRebalanceDelayMs,
        group.rebalanceDeadline,
      );
    }
    this.#rebalance(now, group);
  }

  #updateMember(
    now: number,
    group: Group,
    member: Member,
    input: JoinInput,
    respond: JoinCallback,
  ) {
    member.protocols = input.protocols;
    member.sessionTimeoutMs = input.sessionTimeoutMs;
    member.rebalanceTimeoutMs = input.rebalanceTimeoutMs;
    member.sessionDeadline = now + input.sessionTimeoutMs;
    member.awaitingJoin?.(joinError(KafkaError.REBALANCE_IN_PROGRESS, member.id));
    member.awaitingJoin = respond;
    this.#rebalance(now, group);
  }

  /**
   * A static member back without its member id: it continues the old membership under a new
   * id, and the old id is fenced. A stable group with the same protocols does not rebalance:
   * the member gets the current generation (the leader the members too) and its assignment
   * from SyncGroup.
   */
  #replaceStatic(
    now: number,
    group: Group,
    old: Member,
    input: JoinInput,
    respond: JoinCallback,
  ): JoinOutcome | null {
    const fencedJoin = joinError(KafkaError.FENCED_INSTANCE_ID, old.id);
    old.awaitingJoin?.(fencedJoin);
    old.awaitingSync?.({ errorCode: KafkaError.FENCED_INSTANCE_ID, assignment: EMPTY_ASSIGNMENT });
    const member: Member = {
      ...old,
      id: this.#options.newMemberId(input.clientId),
      clientId: input.clientId,
      clientHost: input.clientHost,
      sessionTimeoutMs: input.sessionTimeoutMs,
      rebalanceTimeoutMs: input.rebalanceTimeoutMs,
      awaitingJoin: null,
      awaitingSync: null,
      sessionDeadline: now + input.sessionTimeoutMs,
    };
    group.removeMember(old);
    group.members.set(member.id, member);
    group.staticMembers.set(input.groupInstanceId as string, member.id);
    if (group.leaderId === old.id) group.leaderId = member.id;
    if (group.state === "Stable" && sameProtocols(old.protocols, input.protocols)) {
      return group.joinOutcomeFor(member);
    }
    member.protocols = input.protocols;
    member.awaitingJoin = respond;
    this.#rebalance(now, group);
    return null;
  }

  #removeAndRebalance(now: number, group: Group, member: Member): void {
    group.removeMember(member);
    member.awaitingJoin?.(joinError(KafkaError.UNKNOWN_MEMBER_ID, member.id));
    member.awaitingSync?.({
      errorCode: KafkaError.UNKNOWN_MEMBER_ID,
      assignment: EMPTY_ASSIGNMENT,
    });
    member.awaitingJoin = null;
    member.awaitingSync = null;
    if (group.leaderId === member.id) group.leaderId = group.members.keys().next().value ?? null;
    this.#rebalance(now, group);
  }

  /** Enters PreparingRebalance if not there yet, then completes the join if it can. */
  #rebalance(now: number, group: Group): void {
    if (group.state !== "PreparingRebalance") {
      for (const member of group.members.values()) {
        member.assignment = EMPTY_ASSIGNMENT;
        const callback = member.awaitingSync;
        member.awaitingSync = null;
        callback?.({ errorCode: KafkaError.REBALANCE_IN_PROGRESS, assignment: EMPTY_ASSIGNMENT });
      }
      const timeout = group.maxRebalanceTimeoutMs();
      group.rebalanceDeadline = now + timeout;
      group.initialDelayUntil =
        group.state === "Empty"
          ? now + Math.min(this.#options.initialRebalanceDelayMs, timeout)
          : null;
      group.state = "PreparingRebalance";
    } else {
      group.rebalanceDeadline = Math.max(group.rebalanceDeadline, now);
    }
    this.#checkJoinComplete(now, group);
  }

  #checkJoinComplete(now: number, group: Group): void {
    if (group.state !== "PreparingRebalance") return;
    if (group.initialDelayUntil !== null && group.members.size > 0) {
      if (now >= group.initialDelayUntil) this.#completeJoin(now, group);
      return;
    }
    if (group.allMembersJoined() || now >= group.rebalanceDeadline) this.#completeJoin(now, group);
  }

  #completeJoin(now: number, group: Group): void {
    for (const member of [...group.members.values()]) {
      if (member.awaitingJoin === null) {
        group.removeMember(member);
        if (group.leaderId === member.id) group.leaderId = null;
      }
    }
    group.initialDelayUntil = null;
    group.rebalanceDeadline = Number.POSITIVE_INFINITY;
    group.generationId += 1;
    if (group.members.size === 0) {
      group.state = "Empty";
      group.protocolName = null;
      group.protocolType = null;
      group.leaderId = null;
      return;
    }
    group.leaderId ??= group.members.keys().next().value ?? null;
    group.protocolName = group.selectProtocol();
    group.state = "CompletingRebalance";
    for (const member of group.members.values()) {
      const callback = member.awaitingJoin;
      member.awaitingJoin = null;
      member.sessionDeadline = now + member.sessionTimeoutMs;
      callback?.(group.joinOutcomeFor(member));
    }
  }
}

/** [KIP-345] A request naming a static member by an id the instance no longer has. */
function fenced(group: Group, ref: { memberId: string; groupInstanceId: string | null }): boolean {
  if (ref.groupInstanceId === null) return false;
  const known = group.staticMembers.get(ref.groupInstanceId);
  return known !== undefined && known !== ref.memberId;
}
