/**
 * One consumer group as Kafka's classic group protocol sees it: members, generation, the chosen
 * protocol and the state machine's state. Mutated only by GroupCoordinator.
 */

export type GroupState = "Empty" | "PreparingRebalance" | "CompletingRebalance" | "Stable";

export interface GroupProtocol {
  name: string;
  metadata: Buffer;
}

export interface JoinOutcome {
  errorCode: number;
  generationId: number;
  protocolName: string | null;
  leader: string;
  memberId: string;
  /** Every member's metadata for the chosen protocol, for the leader only. */
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncOutcome {
  errorCode: number;
  assignment: Buffer;
}

export type JoinCallback = (outcome: JoinOutcome) => void;
export type SyncCallback = (outcome: SyncOutcome) => void;

export interface Member {
  readonly id: string;
  readonly clientId: string;
  /** The member's address as Kafka reports it ("/127.0.0.1"), for DescribeGroups. */
  readonly clientHost: string;
  /** A static member's group.instance.id (KIP-345): it outlives the member id. */
  readonly instanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: GroupProtocol[];
  assignment: Buffer;
  awaitingJoin: JoinCallback | null;
  awaitingSync: SyncCallback | null;
  /** The member is removed when no heartbeat (or join, sync, commit) arrives by then. */
  sessionDeadline: number;
}

export const EMPTY_ASSIGNMENT = Buffer.alloc(0);

export class Group {
  readonly id: string;
  state: GroupState = "Empty";
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** The member id of each static member, by group instance id. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, until the member joins with it. */
  readonly pending = new Map<string, number>();
  /** PreparingRebalance: members that have not rejoined by then are removed. */
  rebalanceDeadline = Number.POSITIVE_INFINITY;
  /** The first rebalance of an empty group waits this long for more members (Kafka's delay). */
  initialDelayUntil: number | null = null;

  constructor(id: string) {
    this.id = id;
  }

  /** Takes a member out, with its static instance mapping. */
  removeMember(member: Member): void {
    this.members.delete(member.id);
    if (member.instanceId !== null && this.staticMembers.get(member.instanceId) === member.id) {
      this.staticMembers.delete(member.instanceId);
    }
  }

  allMembersJoined(): boolean {
    if (this.pending.size > 0) return false;
    for (const member of this.members.values()) if (member.awaitingJoin === null) return false;
    return true;
  }

  maxRebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }

  /** Protocol names every member supports. */
  candidateProtocols(): Set<string> {
    let candidates: Set<string> | null = null as Set<string> | null;
    for (const member of this.members.values()) {
      const names = new Set(member.protocols.map((p) => p.name));
      candidates =
        candidates === null ? names : new Set([...candidates].filter((n) => names.has(n)));
    }
    return candidates ?? new Set();
  }

  /** Kafka's vote: each member picks its most preferred candidate; most votes wins. */
  selectProtocol(): string {
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const choice = member.protocols.find((p) => candidates.has(p.name));
      if (choice !== undefined) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
    }
    let best = "";
    let bestVotes = -1;
    for (const [name, count] of votes) {
      if (count > bestVotes) {
        best = name;
        bestVotes = count;
      }
    }
    return best;
  }

  /** The member's metadata for the chosen protocol (empty while none is chosen). */
  chosenMetadata(member: Member): Buffer {
    return member.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY_ASSIGNMENT;
  }

  joinOutcomeFor(member: Member): JoinOutcome {
    const leader = this.leaderId ?? "";
    return {
      errorCode: 0,
      generationId: this.generationId,
      protocolName: this.protocolName,
      leader,
      memberId: member.id,
      members:
        member.id === leader
          ? [...this.members.values()].map((m) => ({
              memberId: m.id,
              groupInstanceId: m.instanceId,
              metadata: this.chosenMetadata(m),
            }))
          : [],
    };
  }
}

export function sameProtocols(a: readonly GroupProtocol[], b: readonly GroupProtocol[]): boolean {
  return (
    a.length === b.length &&
    a.every((p, i) => p.name === b[i].name && p.metadata.equals(b[i].metadata))
  );
}
